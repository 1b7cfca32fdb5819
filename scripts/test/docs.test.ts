import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { codeBlocks, docBlocks, installedSpecs, splitSpec } from "./docs.js"
import { repoRoot, workspacePackages } from "./workspace.js"

/** The range of each peer dependency the published packages declare (they must agree). */
const peerRanges = (): ReadonlyMap<string, string> => {
  const ranges = new Map<string, string>()
  for (const pkg of workspacePackages().filter((p) => !p.private)) {
    const manifest: { peerDependencies?: Record<string, string> } = JSON.parse(
      fs.readFileSync(path.join(pkg.dir, "package.json"), "utf8")
    )
    for (const [name, range] of Object.entries(manifest.peerDependencies ?? {})) {
      if (range.startsWith("workspace:")) continue
      expect(ranges.get(name) ?? range, `${pkg.name}: ${name}@${range}`).toBe(range)
      ranges.set(name, range)
    }
  }
  return ranges
}

describe("documentation", () => {
  it("reads the fenced blocks of a Markdown text", () => {
    const text = ["# t", "```sh", "npm install a effect@^3.22.4 # comment", "```", "", "```ts", "const x = 1", "```"]
      .join("\n")
    expect(codeBlocks("x.md", text)).toEqual([
      { file: "x.md", line: 2, lang: "sh", code: "npm install a effect@^3.22.4 # comment" },
      { file: "x.md", line: 6, lang: "ts", code: "const x = 1" }
    ])
    expect(installedSpecs("npm install --save-dev a @effect/rpc effect@^3.22.4 # b@1")).toEqual([
      "a",
      "@effect/rpc",
      "effect@^3.22.4"
    ])
    expect(splitSpec("@effect/rpc@^0.76.2")).toEqual({ name: "@effect/rpc", range: "^0.76.2" })
    expect(splitSpec("effect")).toEqual({ name: "effect", range: "" })
  })

  it("every documented install line names effect and @effect/* at the ranges the packages support", () => {
    const supported = peerRanges()
    expect(supported.get("effect")).toMatch(/^\^3\./)
    const lines = docBlocks().filter((b) => b.lang === "sh").flatMap((b) =>
      installedSpecs(b.code).map((spec) => ({ where: `${b.file}:${b.line}`, ...splitSpec(spec) }))
    )
    const effectSpecs = lines.filter((s) => s.name === "effect" || s.name.startsWith("@effect/"))
    expect(effectSpecs.length).toBeGreaterThan(10)
    for (const spec of effectSpecs) {
      expect(spec.range, `${spec.where}: ${spec.name} unpinned or off the supported range`).toBe(
        supported.get(spec.name) ?? "a range from the packages' peerDependencies"
      )
    }
  })

  it("the root README's table of compatible versions matches the peer ranges and the engines field", () => {
    const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8")
    const table = readme.split("### Compatible versions")[1]?.split("\n\n")[1] ?? ""
    const [header, , row] = table.split("\n").map((line) => line.split("|").map((cell) => cell.trim()))
    const supported = peerRanges()
    for (const name of ["effect", "@effect/platform", "@effect/platform-node", "@effect/rpc", "@effect/cli"]) {
      const column = header?.indexOf(name) ?? -1
      expect(column, name).toBeGreaterThan(0)
      expect(row?.[column]?.split(" ")[0], name).toBe(supported.get(name))
    }
    expect(row?.[header?.indexOf("Node.js") ?? -1]).toBe("≥ 20.19.0")
  })
})
