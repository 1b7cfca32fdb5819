/** The suite's test order: the long poles first, every other file in vitest's own order. */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { longPoles, longPolesFirst } from "../vitest-sequencer.js"
import { repoRoot } from "./workspace.js"

describe("vitest sequencer", () => {
  it("starts the packaging test first and keeps the order of the others", () => {
    expect(longPoles).toContain("scripts/test/packaging.test.ts")
    const files = [
      "apps/a/test/big.test.ts",
      "packages/b/test/x.test.ts",
      "scripts/test/packaging.test.ts",
      "c.test.ts"
    ]
    expect(longPolesFirst(files, (f) => f)).toEqual([
      "scripts/test/packaging.test.ts",
      "apps/a/test/big.test.ts",
      "packages/b/test/x.test.ts",
      "c.test.ts"
    ])
  })

  it("names files that exist", () => {
    for (const file of longPoles) expect(fs.existsSync(path.join(repoRoot, file)), file).toBe(true)
  })
})
