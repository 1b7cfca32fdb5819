/**
 * Builds a package's `dist/` from a clean slate, and checks before packing that `dist/` is the
 * build of the current `src/` (every module compiled, nothing older than its source, no file left
 * from a module that no longer exists). Run from the package's folder:
 *
 *   node --import tsx ../../scripts/package-dist.ts build   # the package's `build` script
 *   node --import tsx ../../scripts/package-dist.ts check   # its `prepack` script
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"

/** The `.ts` modules under a folder (declaration files excluded), relative to it, without extension. */
const modules = (dir: string, ext: string): ReadonlyArray<string> =>
  fs.readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(ext) && !(ext === ".ts" && file.endsWith(".d.ts")))
    .map((file) => file.slice(0, -ext.length))
    .sort()

/** What is wrong with `dist/` of the package in `dir`, one line per problem (none: it matches `src/`). */
const distProblems = (dir: string): ReadonlyArray<string> => {
  const src = path.join(dir, "src")
  const dist = path.join(dir, "dist")
  if (!fs.existsSync(dist)) return ["dist/ does not exist: run the build"]
  const sources = modules(src, ".ts")
  const compiled = new Set(modules(dist, ".js"))
  // a daemon without a library surface builds no declarations (`"declaration": false`)
  const build: { compilerOptions?: { declaration?: boolean } } = JSON.parse(
    fs.readFileSync(path.join(dir, "tsconfig.build.json"), "utf8")
  )
  const outputs = build.compilerOptions?.declaration === true ? [".js", ".d.ts"] : [".js"]
  const problems: Array<string> = []
  for (const module of sources) {
    for (const ext of outputs) {
      const out = path.join(dist, module + ext)
      if (!fs.existsSync(out)) problems.push(`dist/${module}${ext} is missing`)
      else if (fs.statSync(out).mtimeMs < fs.statSync(path.join(src, `${module}.ts`)).mtimeMs) {
        problems.push(`dist/${module}${ext} is older than src/${module}.ts`)
      }
    }
    compiled.delete(module)
  }
  for (const stale of compiled) problems.push(`dist/${stale}.js has no source: a stale file from an earlier build`)
  return problems
}

const run = (mode: string | undefined, dir: string): number => {
  if (mode === "build") {
    fs.rmSync(path.join(dir, "dist"), { recursive: true, force: true })
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
    const result = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: dir, stdio: "inherit" })
    if (result.status !== 0) return result.status ?? 1
  } else if (mode !== "check") {
    process.stderr.write("usage: package-dist.ts build|check\n")
    return 2
  }
  const problems = distProblems(dir)
  for (const problem of problems) process.stderr.write(`${path.basename(dir)}: ${problem}\n`)
  return problems.length === 0 ? 0 : 1
}

process.exitCode = run(process.argv[2], process.cwd())
