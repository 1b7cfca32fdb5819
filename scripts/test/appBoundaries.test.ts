/**
 * No app is another app's library: what two daemons share lives in a package under packages/, so an
 * app's sources and manifest never name another app. (Tests may still run another daemon as a
 * process, by its entry point's path.)
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { repoRoot, workspacePackages } from "./workspace.js"

const apps = workspacePackages().filter((pkg) => path.relative(repoRoot, pkg.dir).startsWith(`apps${path.sep}`))

const sourceFiles = (dir: string): ReadonlyArray<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(file)
    return /\.[cm]?[jt]sx?$/.test(entry.name) ? [file] : []
  })

/** Every `import`/`export … from`, dynamic `import()` and `require()` of another app, as `file: specifier`. */
const importsOfApps = (file: string, others: ReadonlyArray<string>): ReadonlyArray<string> => {
  const text = fs.readFileSync(file, "utf8")
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*|import\s+)["']([^"']+)["']/g)]
    .map((match) => match[1] ?? "")
  return specifiers
    .filter((specifier) => others.some((name) => specifier === name || specifier.startsWith(`${name}/`)))
    .map((specifier) => `${path.relative(repoRoot, file)}: ${specifier}`)
}

interface Manifest {
  readonly dependencies?: Record<string, string>
  readonly devDependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly optionalDependencies?: Record<string, string>
}

const dependenciesOnApps = (dir: string, others: ReadonlyArray<string>): ReadonlyArray<string> => {
  const manifest: Manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"))
  const fields = ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"] as const
  return fields.flatMap((field) =>
    Object.keys(manifest[field] ?? {})
      .filter((name) => others.includes(name))
      .map((name) => `${path.relative(repoRoot, dir)}/package.json ${field}: ${name}`)
  )
}

describe("app boundaries", () => {
  it("finds the apps", () => {
    expect(apps.map((app) => app.name).sort()).toEqual(["@llama-orch/orchestratord", "@llama-orch/pool-managerd"])
  })

  for (const app of apps) {
    const others = apps.filter((other) => other.name !== app.name).map((other) => other.name)

    it(`${app.name} does not import another app`, () => {
      const files = sourceFiles(path.join(app.dir, "src"))
      expect(files.length).toBeGreaterThan(0)
      expect(files.flatMap((file) => importsOfApps(file, others))).toEqual([])
    })

    it(`${app.name} does not depend on another app`, () => {
      expect(dependenciesOnApps(app.dir, others)).toEqual([])
    })
  }

  it("sees an import of another app and a dependency on one", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "app-boundaries-"))
    try {
      fs.writeFileSync(
        path.join(dir, "a.ts"),
        [
          `import { Config } from "@llama-orch/pool-managerd"`,
          `export * from "@llama-orch/pool-managerd/package.json"`,
          `const lazy = () => import("@llama-orch/pool-managerd")`,
          `import { PoolsConfig } from "@llama-orch/pool-daemon"`
        ].join("\n")
      )
      fs.writeFileSync(
        path.join(dir, "package.json"),
        JSON.stringify({ devDependencies: { "@llama-orch/pool-managerd": "workspace:^", effect: "^3" } })
      )
      const others = ["@llama-orch/pool-managerd"]
      expect(importsOfApps(path.join(dir, "a.ts"), others)).toHaveLength(3)
      expect(dependenciesOnApps(dir, others)).toHaveLength(1)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
