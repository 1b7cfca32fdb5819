/**
 * The packaging test: build and `pnpm pack` every published package, install the tarballs with npm
 * into a fresh project outside the workspace (with the lockfile's versions of Effect 3), typecheck
 * a consumer and every `ts` block of the READMEs against the installed `.d.ts` files, run the
 * consumer embedded and against the installed pool-managerd, and run the daemons' installed CLIs.
 */
import { execFile, type ExecFileOptions } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { exampleBlocks, publicDocComments } from "./apiReference.js"
import { docBlocks } from "./docs.js"
import { lockedVersions, repoRoot, workspacePackages } from "./workspace.js"

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

/** What the consumer installs besides the tarballs: the peers the READMEs name, and their tools. */
const consumerPeers = [
  "effect",
  "@effect/platform",
  "@effect/platform-node",
  "@effect/rpc",
  "@effect/cli",
  "@effect/printer",
  "@effect/printer-ansi",
  "@effect/opentelemetry",
  "@opentelemetry/exporter-prometheus",
  "openai",
  // the optional peers of @llama-orch/pool-core/testing, which the README's test example uses
  "@effect/vitest",
  "vitest",
  "typescript",
  "@types/node"
]

/** The consumer's settings under Bundler resolution (the committed tsconfig.json is strict NodeNext). */
const bundlerConfig = {
  extends: "./tsconfig.json",
  compilerOptions: { module: "ESNext", moduleResolution: "Bundler", skipLibCheck: true, noEmit: true }
}

interface InstalledManifest {
  readonly type?: string
  readonly engines?: { readonly node?: string }
  readonly exports: Record<string, string | null | Record<string, string>>
  readonly bin?: Record<string, string>
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>
}

/** Every folder named `node_modules/<name>` under `dir`. */
const copiesOf = (dir: string, name: string): ReadonlyArray<string> =>
  fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) =>
    f.endsWith(`node_modules/${name}`) && fs.statSync(path.join(dir, f)).isDirectory()
  )

describe("packaging", () => {
  const published = workspacePackages().filter((p) => !p.private)
  const project = fs.mkdtempSync(path.join(os.tmpdir(), "llama-orch-consumer-"))
  const tarballs = path.join(project, "tarballs")
  // the ts blocks of the READMEs and docs, and the `@example`s of the API reference
  const snippets = [...docBlocks().filter((b) => b.lang === "ts"), ...publicDocComments().flatMap(exampleBlocks)]
  const installed = (name: string): InstalledManifest =>
    JSON.parse(fs.readFileSync(path.join(project, "node_modules", name, "package.json"), "utf8"))
  const libraries = () => published.filter((p) => installed(p.name).exports["."] !== undefined)

  beforeAll(async () => {
    // `prepack` refuses a dist/ that is not the build of src/; build only when one is not
    const stale = await Promise.all(
      published.map((p) =>
        run("node", ["--import", "tsx", path.join(repoRoot, "scripts/package-dist.ts"), "check"], { cwd: p.dir }).then(
          () => false,
          () => true
        )
      )
    )
    if (stale.some((s) => s)) await run("npx", [...pnpm, "run", "build"], { cwd: repoRoot })
    fs.mkdirSync(tarballs)
    // each pack writes its own tarball: pack them all at once
    await Promise.all(
      published.map((pkg) => run("npx", [...pnpm, "pack", "--pack-destination", tarballs], { cwd: pkg.dir }))
    )
    const locked = lockedVersions()
    const dependencies: Record<string, string> = Object.fromEntries(
      fs.readdirSync(tarballs).map((file) => {
        const pkg = published.find((p) => file.startsWith(`${p.name.replace("@", "").replace("/", "-")}-`))
        if (pkg === undefined) throw new Error(`unexpected tarball ${file}`)
        return [pkg.name, `file:./tarballs/${file}`]
      })
    )
    for (const peer of consumerPeers) {
      const version = locked.get(peer)
      if (version === undefined) throw new Error(`no version of ${peer} in pnpm-lock.yaml`)
      dependencies[peer] = version
    }
    // @effect/platform-node's declarations refer to the ws package's types
    dependencies["@types/ws"] = "^8.5.12"
    fs.writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify({ name: "llama-orch-consumer", private: true, type: "module", dependencies }, null, 2)
    )
    fs.cpSync(path.join(repoRoot, "scripts/test/consumer"), project, { recursive: true })
    // every ts block of the docs becomes a module of the consumer, compiled with it
    fs.mkdirSync(path.join(project, "src/docs"))
    for (const block of snippets) {
      const name = `${block.file.replace(/[/.]/g, "_")}_${block.line}.ts`
      fs.writeFileSync(path.join(project, "src/docs", name), `// ${block.file}:${block.line}\n${block.code}\n`)
    }
    fs.writeFileSync(path.join(project, "tsconfig.bundler.json"), JSON.stringify(bundlerConfig, null, 2))
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: project })
  }, 900_000)

  afterAll(() => fs.rmSync(project, { recursive: true, force: true }))

  it("packs every published package with its entry points, types, bins, README and LICENSE", () => {
    expect(published.length).toBeGreaterThanOrEqual(7)
    for (const pkg of published) {
      const dir = path.join(project, "node_modules", pkg.name)
      const manifest = installed(pkg.name)
      for (const [subpath, entry] of Object.entries(manifest.exports)) {
        if (typeof entry === "string" || entry === null) continue
        // `types` before `default`, so that node16, nodenext and bundler resolution all find the .d.ts
        const conditions = Object.keys(entry)
        expect(conditions.indexOf("types"), `${pkg.name} ${subpath}`).toBeGreaterThanOrEqual(0)
        expect(conditions.indexOf("types"), `${pkg.name} ${subpath}`).toBeLessThan(conditions.indexOf("default"))
        // a pattern (`./*`) stands for every module of dist/ (but `internal/*`, which is `null`)
        const modules = subpath.includes("*")
          ? fs.readdirSync(path.join(dir, "dist")).filter((f) => f.endsWith(".js")).map((f) => f.slice(0, -3))
          : [""]
        expect(modules.length, `${pkg.name} ${subpath}`).toBeGreaterThan(0)
        for (const module of modules) {
          for (const condition of ["types", "default"]) {
            const target = (entry[condition] ?? "").replace("*", module)
            expect(fs.existsSync(path.join(dir, target)), `${pkg.name} ${subpath} ${condition} ${target}`).toBe(true)
          }
        }
      }
      for (const bin of Object.values(manifest.bin ?? {})) {
        expect(fs.existsSync(path.join(dir, bin)), `${pkg.name} bin ${bin}`).toBe(true)
      }
      expect(manifest.exports["."] !== undefined || manifest.bin !== undefined, `${pkg.name} has no entry point`).toBe(
        true
      )
      for (const file of ["README.md", "LICENSE"]) {
        expect(fs.existsSync(path.join(dir, file)), `${pkg.name} ${file}`).toBe(true)
      }
      for (const [dep, range] of Object.entries({ ...manifest.dependencies, ...manifest.peerDependencies })) {
        expect(range, `${pkg.name} -> ${dep}`).not.toMatch(/^workspace:/)
      }
    }
  })

  it("declares ESM only and Node >= 20.19.0; libraries take Effect 3 and pool-core as peers and refuse Effect 4", () => {
    expect(libraries().map((p) => p.name)).toContain("@llama-orch/pool-core")
    for (const pkg of published) {
      const manifest = installed(pkg.name)
      expect(manifest.type, pkg.name).toBe("module")
      expect(manifest.engines?.node, pkg.name).toBe(">=20.19.0")
    }
    for (const pkg of libraries()) {
      const manifest = installed(pkg.name)
      for (const dep of Object.keys(manifest.dependencies ?? {})) {
        expect(dep, `${pkg.name} depends on ${dep}: a second copy for whoever also uses it`).not.toMatch(
          /^(effect|@effect\/(platform|platform-node|rpc|cli)|@llama-orch\/pool-core)$/
        )
      }
      for (const [peer, range] of Object.entries(manifest.peerDependencies ?? {})) {
        if (peer === "effect") expect(range, pkg.name).toMatch(/^\^3\.\d+\.\d+$/)
        else if (peer.startsWith("@effect/")) expect(range, `${pkg.name} ${peer}`).toMatch(/^\^0\.\d+\.\d+$/)
      }
    }
    for (const name of ["@llama-orch/pool-client", "@llama-orch/orchestrator-core"]) {
      expect(Object.keys(installed(name).peerDependencies ?? {}), name).toContain("@llama-orch/pool-core")
    }
  })

  it("daemon-kit leaves OpenTelemetry to the programs that serve metrics", () => {
    const manifest = installed("@llama-orch/daemon-kit")
    const otel = /^@(effect\/opentelemetry|opentelemetry\/)/
    expect(Object.keys(manifest.dependencies ?? {}).filter((d) => otel.test(d))).toEqual([])
    const optional = Object.keys(manifest.peerDependencies ?? {}).filter((d) => otel.test(d))
    expect(optional.length).toBeGreaterThan(0)
    for (const peer of optional) expect(manifest.peerDependenciesMeta?.[peer]?.optional, peer).toBe(true)
    const dist = path.join(project, "node_modules/@llama-orch/daemon-kit/dist")
    const loading = fs.readdirSync(dist).filter((f) =>
      f.endsWith(".js") &&
      /from "@(effect\/opentelemetry|opentelemetry\/)/.test(fs.readFileSync(path.join(dist, f), "utf8"))
    )
    expect(loading).toEqual(["PrometheusMetrics.js"])
  })

  it("installs exactly one copy of pool-core next to pool-client, orchestrator-core and the daemons", () => {
    expect(copiesOf(project, "@llama-orch/pool-core")).toEqual(["node_modules/@llama-orch/pool-core"])
    expect(copiesOf(project, "effect")).toEqual(["node_modules/effect"])
  })

  it("typechecks the consumer, every ts block of the READMEs and docs and every @example, strict, under NodeNext", async () => {
    expect(snippets.length).toBeGreaterThanOrEqual(13)
    await run(path.join(project, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], { cwd: project })
    expect(fs.existsSync(path.join(project, "out/main.js"))).toBe(true)
    expect(fs.readdirSync(path.join(project, "out/docs")).length).toBe(snippets.length)
  })

  it("typechecks them under Bundler resolution too", async () => {
    const out = await run(path.join(project, "node_modules/.bin/tsc"), ["-p", "tsconfig.bundler.json"], {
      cwd: project
    })
    expect(out).toBe("")
  })

  it("runs the consumer: embedded pool on the mock engine, lease, a completion through the orchestrator", async () => {
    const out = await run("node", ["out/main.js"], { cwd: project, timeout: 120_000 })
    expect(out).toContain("consumer: ok")
  })

  it("runs the consumer remotely: the installed pool-managerd bin, pool-client's layer under the orchestrator", async () => {
    const out = await run("node", ["out/remote.js"], { cwd: project, timeout: 120_000 })
    expect(out).toContain("over pool-client")
    expect(out).toContain("consumer remote: ok")
  })

  it("exports every module by its name, and no internal one", async () => {
    const load = (specifier: string) =>
      run("node", ["--input-type=module", "-e", `await import(${JSON.stringify(specifier)})`], { cwd: project })
    await load("@llama-orch/pool-core/PoolManager")
    await load("@llama-orch/daemon-kit/Secret")
    await expect(load("@llama-orch/pool-core/internal/feed")).rejects.toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED/)
    await expect(load("@llama-orch/mock-engine/bin")).rejects.toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED/)
  })

  it("loads every library with require() from CommonJS", async () => {
    const script = libraries().map((p) =>
      `if (Object.keys(require(${JSON.stringify(p.name)})).length === 0) throw new Error(${JSON.stringify(p.name)})`
    ).join(";")
    await run("node", ["--input-type=commonjs", "-e", script], { cwd: project })
    expect(libraries().length).toBeGreaterThanOrEqual(6)
  })

  it("installs the daemons as CLIs", async () => {
    const bins = ["orchestratord", "pool-managerd", "mock-engine"]
    const helps = await Promise.all(
      bins.map((bin) => run(path.join(project, "node_modules/.bin", bin), ["--help"], { cwd: project }))
    )
    bins.forEach((bin, i) => expect(helps[i], bin).toContain("--port"))
  })

  it("installs llama-orch, whose config check runs the installed daemons' own validation", async () => {
    const llamaOrch = path.join(project, "node_modules/.bin/llama-orch")
    fs.writeFileSync(path.join(project, "good.yaml"), "port: 9300\n")
    fs.writeFileSync(path.join(project, "bad.yaml"), "port: 70000\n")
    const daemons = ["orchestratord", "pool-managerd"]
    // the runs are independent processes: all at once
    const [help, ...checks] = await Promise.all([
      run(llamaOrch, ["--help"], { cwd: project }),
      ...daemons.flatMap((daemon) => [
        run(llamaOrch, ["config", "check", "--daemon", daemon, "good.yaml"], { cwd: project }),
        run(llamaOrch, ["config", "check", "--daemon", daemon, "bad.yaml"], { cwd: project }).then(
          () => "",
          (error: Error) => error.message
        )
      ])
    ])
    expect(help).toContain("pools drain")
    daemons.forEach((daemon, i) => {
      expect(checks[2 * i], daemon).toBe("good.yaml: valid configuration\n")
      expect(checks[2 * i + 1], daemon).toContain(`llama-orch: ${daemon}: invalid configuration in bad.yaml: port:`)
    })
  })
})
