import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { copyWorkingTree, repoRoot, workspacePackages } from "./workspace.js"

/** The packages each pending changeset bumps, read from the changesets' front matter. */
const pendingBumps = (root: string): Map<string, string> => {
  const bumps = new Map<string, string>()
  const dir = path.join(root, ".changeset")
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".md") && f !== "README.md")) {
    const front = /^---\n([\s\S]*?)\n---/.exec(fs.readFileSync(path.join(dir, file), "utf8"))?.[1] ?? ""
    for (const match of front.matchAll(/^"?([^":\s]+)"?\s*:\s*(major|minor|patch)\s*$/gm)) {
      if (match[1] !== undefined && match[2] !== undefined) bumps.set(match[1], match[2])
    }
  }
  return bumps
}

/** The `@since` versions written in the sources of the package in `dir`. */
const sinceTags = (dir: string): ReadonlySet<string> => {
  const src = path.join(dir, "src")
  const tags = new Set<string>()
  for (const file of fs.readdirSync(src, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"))) {
    for (const match of fs.readFileSync(path.join(src, file), "utf8").matchAll(/@since (\S+)/g)) {
      if (match[1] !== undefined) tags.add(match[1])
    }
  }
  return tags
}

/** Compares two `x.y.z` versions. */
const compareVersions = (a: string, b: string): number => {
  const [x, y] = [a, b].map((v) => v.split(".").map(Number))
  for (let i = 0; i < 3; i++) {
    const d = (x?.[i] ?? 0) - (y?.[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

const changesetVersion = (cwd: string) =>
  execFileSync(path.join(repoRoot, "node_modules/.bin/changeset"), ["version"], { cwd, stdio: "pipe" })

const versions = (root: string): ReadonlyMap<string, string> =>
  new Map(workspacePackages(root).map((p) => [p.name, p.version]))

describe("changeset version (in a throw-away copy)", () => {
  const copy = copyWorkingTree("llama-orch-changeset-")
  fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(copy, "node_modules"))
  afterAll(() => fs.rmSync(copy, { recursive: true, force: true }))

  it("bumps every package with a changeset, writes its CHANGELOG and consumes the changesets", () => {
    const bumps = pendingBumps(copy)
    expect(bumps.size).toBeGreaterThan(0)
    const before = new Map(workspacePackages(copy).map((p) => [p.name, p.version]))
    for (const name of bumps.keys()) expect(before.has(name), `changeset names unknown package ${name}`).toBe(true)

    changesetVersion(copy)

    const after = workspacePackages(copy)
    for (const pkg of after) {
      const old = before.get(pkg.name)
      if (!bumps.has(pkg.name) || old === undefined) continue
      expect(pkg.version, pkg.name).not.toBe(old)
      const changelog = fs.readFileSync(path.join(pkg.dir, "CHANGELOG.md"), "utf8")
      expect(changelog).toContain(`# ${pkg.name}`)
      expect(changelog).toContain(`## ${pkg.version}`)
    }
    const left = fs.readdirSync(path.join(copy, ".changeset")).filter((f) => f.endsWith(".md") && f !== "README.md")
    expect(left).toEqual([])
    // Internal dependencies keep the workspace protocol; pnpm rewrites it to the new version when packing.
    for (const pkg of after) {
      const manifest: { dependencies?: Record<string, string> } = JSON.parse(
        fs.readFileSync(path.join(pkg.dir, "package.json"), "utf8")
      )
      for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
        if (dep.startsWith("@llama-orch/")) expect(range, `${pkg.name} -> ${dep}`).toMatch(/^workspace:/)
      }
    }
  })

  it("leaves the private examples alone: no version bump, no changelog", () => {
    for (const dir of fs.readdirSync(path.join(copy, "examples"))) {
      const file = path.join(copy, "examples", dir, "package.json")
      if (!fs.existsSync(file)) continue
      const manifest: { version: string; private?: boolean } = JSON.parse(fs.readFileSync(file, "utf8"))
      expect(manifest.private, dir).toBe(true)
      expect(manifest.version, dir).toBe("0.0.0")
      expect(fs.existsSync(path.join(copy, "examples", dir, "CHANGELOG.md")), dir).toBe(false)
    }
  })

  it("no @since tag names a version newer than the one the package is released at", () => {
    for (const pkg of workspacePackages(copy).filter((p) => !p.private)) {
      for (const tag of sinceTags(pkg.dir)) {
        expect(compareVersions(tag, pkg.version), `${pkg.name}: @since ${tag} > ${pkg.version}`).toBeLessThanOrEqual(0)
      }
    }
  })

  it("a breaking (minor) pool-core release bumps its 0.x peer dependents by a minor, not to 1.0.0", () => {
    const before = versions(copy)
    fs.writeFileSync(
      path.join(copy, ".changeset/pool-core-next.md"),
      `---\n"@llama-orch/pool-core": minor\n---\n\nNext.\n`
    )
    changesetVersion(copy)
    const after = versions(copy)
    const bump = (name: string) => `${before.get(name)} -> ${after.get(name)}`
    for (const name of ["@llama-orch/pool-core", "@llama-orch/pool-client", "@llama-orch/orchestrator-core"]) {
      const [major, minor] = (before.get(name) ?? "").split(".").map(Number)
      expect(after.get(name), bump(name)).toBe(`${major}.${(minor ?? 0) + 1}.0`)
    }
    for (const [name, version] of after) expect(compareVersions(version, "1.0.0"), bump(name)).toBeLessThan(0)
  })
})
