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

describe("changeset version (in a throw-away copy)", () => {
  const copy = copyWorkingTree("llama-orch-changeset-")
  fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(copy, "node_modules"))
  afterAll(() => fs.rmSync(copy, { recursive: true, force: true }))

  it("bumps every package with a changeset, writes its CHANGELOG and consumes the changesets", () => {
    const bumps = pendingBumps(copy)
    expect(bumps.size).toBeGreaterThan(0)
    const before = new Map(workspacePackages(copy).map((p) => [p.name, p.version]))
    for (const name of bumps.keys()) expect(before.has(name), `changeset names unknown package ${name}`).toBe(true)

    execFileSync(path.join(repoRoot, "node_modules/.bin/changeset"), ["version"], { cwd: copy, stdio: "pipe" })

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
})
