/**
 * The packaging test: build and `pnpm pack` every published package, install the tarballs with npm
 * into a fresh project outside the workspace, typecheck a consumer script against the installed
 * `.d.ts` files, run it, and run the daemons' installed CLIs.
 */
import { execFile, type ExecFileOptions } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { repoRoot, workspacePackages } from "./workspace.js"

const pnpm = ["--yes", "pnpm@10.34.8"]
/** Runs a command without blocking the test worker; a failure carries the command's output. */
const run = (command: string, args: ReadonlyArray<string>, options: ExecFileOptions = {}): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 300_000, maxBuffer: 64 * 1024 * 1024, ...options }, (error, stdout, stderr) => {
      if (error === null) resolve(String(stdout))
      else {reject(
          new Error(`${command} ${args.join(" ")} failed: ${error.message}\n${String(stdout)}\n${String(stderr)}`)
        )}
    })
  })

describe("packaging", () => {
  const published = workspacePackages().filter((p) => !p.private)
  const project = fs.mkdtempSync(path.join(os.tmpdir(), "llama-orch-consumer-"))
  const tarballs = path.join(project, "tarballs")

  beforeAll(async () => {
    await run("npx", [...pnpm, "run", "build"], { cwd: repoRoot })
    fs.mkdirSync(tarballs)
    for (const pkg of published) await run("npx", [...pnpm, "pack", "--pack-destination", tarballs], { cwd: pkg.dir })
    const rootManifest: { devDependencies: Record<string, string> } = JSON.parse(
      fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")
    )
    const fromRoot = (name: string): string => {
      const range = rootManifest.devDependencies[name]
      if (range === undefined) throw new Error(`no version of ${name} in the root package.json`)
      return range
    }
    const dependencies: Record<string, string> = Object.fromEntries(
      fs.readdirSync(tarballs).map((file) => {
        const pkg = published.find((p) => file.startsWith(`${p.name.replace("@", "").replace("/", "-")}-`))
        if (pkg === undefined) throw new Error(`unexpected tarball ${file}`)
        return [pkg.name, `file:./tarballs/${file}`]
      })
    )
    for (
      const peer of ["effect", "@effect/platform", "@effect/platform-node", "@effect/rpc", "typescript", "@types/node"]
    ) {
      dependencies[peer] = fromRoot(peer)
    }
    // @effect/platform-node's declarations refer to the ws package's types
    dependencies["@types/ws"] = "^8.5.12"
    fs.writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify({ name: "llama-orch-consumer", private: true, type: "module", dependencies }, null, 2)
    )
    fs.cpSync(path.join(repoRoot, "scripts/test/consumer"), project, { recursive: true })
    await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: project })
  }, 900_000)

  afterAll(() => fs.rmSync(project, { recursive: true, force: true }))

  it("packs every published package with its entry points, types, bins, README and LICENSE", () => {
    expect(published.length).toBeGreaterThanOrEqual(7)
    for (const pkg of published) {
      const installed = path.join(project, "node_modules", pkg.name)
      const manifest: {
        exports: { "."?: { types: string; default: string } }
        bin?: Record<string, string>
        dependencies?: Record<string, string>
      } = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8"))
      const entry = manifest.exports["."]
      if (entry !== undefined) {
        expect(fs.existsSync(path.join(installed, entry.types)), `${pkg.name} types`).toBe(true)
        expect(fs.existsSync(path.join(installed, entry.default)), `${pkg.name} js`).toBe(true)
      }
      for (const bin of Object.values(manifest.bin ?? {})) {
        expect(fs.existsSync(path.join(installed, bin)), `${pkg.name} bin ${bin}`).toBe(true)
      }
      expect(entry !== undefined || manifest.bin !== undefined, `${pkg.name} has no entry point`).toBe(true)
      for (const file of ["README.md", "LICENSE"]) {
        expect(fs.existsSync(path.join(installed, file)), `${pkg.name} ${file}`).toBe(true)
      }
      for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
        expect(range, `${pkg.name} -> ${dep}`).not.toMatch(/^workspace:/)
      }
    }
  })

  it("typechecks the consumer against the installed .d.ts files", async () => {
    await run(path.join(project, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], { cwd: project })
    expect(fs.existsSync(path.join(project, "out/main.js"))).toBe(true)
  })

  it("runs the consumer: embedded pool on the mock engine, lease, a completion through the orchestrator", async () => {
    const out = await run("node", ["out/main.js"], { cwd: project, timeout: 120_000 })
    expect(out).toContain("consumer: ok")
  })

  it("installs the daemons as CLIs", async () => {
    for (const bin of ["orchestratord", "pool-managerd", "mock-engine"]) {
      const help = await run(path.join(project, "node_modules/.bin", bin), ["--help"], { cwd: project })
      expect(help, bin).toContain("--port")
    }
  })
})
