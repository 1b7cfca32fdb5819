import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { repoRoot } from "./workspace.js"

const script = path.join(repoRoot, "scripts/package-dist.ts")
// the package folder is outside the workspace: load tsx by its path
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llama-orch-dist-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** Runs the script as a package's `build`/`prepack` would, in a package folder. */
const packageDist = (mode: string) => {
  const result = spawnSync(process.execPath, ["--import", tsx, script, mode], { cwd: dir, encoding: "utf8" })
  return { status: result.status, stderr: result.stderr }
}

const write = (file: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
  fs.writeFileSync(path.join(dir, file), text)
}

describe("package-dist (a package's build and prepack)", () => {
  it("builds an emptied dist/ from src/, and prepack refuses missing, stale and leftover files", () => {
    const tsconfig = {
      extends: path.join(repoRoot, "tsconfig.base.json"),
      compilerOptions: { rootDir: "src", outDir: "dist", declaration: true, customConditions: [], types: [] },
      include: ["src"]
    }
    write("tsconfig.build.json", JSON.stringify(tsconfig))
    write("src/index.ts", "export const a = 1\n")
    write("src/internal/b.ts", "export const b = 2\n")
    write("dist/Removed.js", "// from an earlier build of a module that is gone\n")

    expect(packageDist("build")).toEqual({ status: 0, stderr: "" })
    expect(fs.readdirSync(path.join(dir, "dist")).sort()).toEqual(["index.d.ts", "index.js", "internal"])
    expect(packageDist("check")).toEqual({ status: 0, stderr: "" })

    write("dist/Removed.js", "\n")
    const later = new Date(Date.now() + 60_000)
    write("src/new.ts", "export const n = 3\n")
    fs.utimesSync(path.join(dir, "src/index.ts"), later, later)
    const refused = packageDist("check")
    expect(refused.status).toBe(1)
    const name = path.basename(dir)
    expect(refused.stderr.split("\n").filter((l) => l.length > 0).sort()).toEqual([
      `${name}: dist/Removed.js has no source: a stale file from an earlier build`,
      `${name}: dist/index.d.ts is older than src/index.ts`,
      `${name}: dist/index.js is older than src/index.ts`,
      `${name}: dist/new.d.ts is missing`,
      `${name}: dist/new.js is missing`
    ])
    expect(packageDist("publish").status).toBe(2)
  })
})
