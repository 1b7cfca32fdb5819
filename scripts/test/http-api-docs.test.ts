import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { markdownReference, openApiDocument } from "../http-api-docs.js"
import { repoRoot } from "./workspace.js"

describe("docs/ HTTP API reference", () => {
  it("is the document orchestratord serves (regenerate with pnpm docs:api)", () => {
    const document = openApiDocument()
    expect(fs.readFileSync(path.join(repoRoot, "docs/openapi.json"), "utf8")).toBe(document)
    expect(fs.readFileSync(path.join(repoRoot, "docs/HTTP-API.md"), "utf8")).toBe(markdownReference(document))
  })
})
