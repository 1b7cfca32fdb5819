/**
 * The `@example` blocks of the published libraries' doc comments (what the API reference shows):
 * every exported service has one, and every one typechecks, strict, against the workspace sources
 * (the packaging test compiles the same blocks again against the packed tarballs).
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import {
  docComments,
  exampleBlocks,
  internalModules,
  isService,
  libraryEntryPoints,
  publicDocComments
} from "./apiReference.js"
import { repoRoot } from "./workspace.js"

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")

describe("API examples", () => {
  const comments = publicDocComments()
  const examples = comments.flatMap(exampleBlocks)
  const folders: Array<string> = []
  afterAll(() => {
    for (const folder of folders) fs.rmSync(folder, { recursive: true, force: true })
  })

  it("reads the ts blocks of the @example tags of doc comments", () => {
    const source = [
      "/**",
      " * A service.",
      " *",
      " * @example",
      " * ```ts",
      " * const a = 1",
      " * ```",
      " *",
      " * @since 0.1.0",
      " */",
      "export class S extends Context.Tag(\"S\")<S, {}>() {}"
    ].join("\n")
    const [comment] = docComments("x.ts", source)
    expect(comment?.declaration).toBe("export class S extends Context.Tag(\"S\")<S, {}>() {}")
    expect(isService(comment?.declaration ?? "")).toBe(true)
    expect(comment === undefined ? [] : exampleBlocks(comment)).toEqual([
      { file: "x.ts", line: 5, lang: "ts", code: "const a = 1" }
    ])
  })

  it("every exported service has a ts @example", () => {
    const services = comments.filter((c) => isService(c.declaration))
    expect(services.length).toBeGreaterThanOrEqual(5)
    for (const service of services) {
      expect(exampleBlocks(service).length, `${service.file}:${service.line} ${service.declaration}`)
        .toBeGreaterThan(0)
    }
  })

  it("every export of a public module has a @category; every internal module says what it does and that it is internal", () => {
    const exported = comments.filter((c) =>
      /^export (declare )?(abstract )?(const|let|function|class|interface|type|enum) \w/.test(c.declaration)
    )
    expect(exported.length).toBeGreaterThan(100)
    for (const comment of exported) {
      expect(comment.text, `${comment.file}:${comment.line} ${comment.declaration}`).toMatch(/^@category \w+/m)
    }
    for (const file of internalModules()) {
      const [header] = docComments(file, fs.readFileSync(file, "utf8"))
      expect(header?.line, `${path.relative(repoRoot, file)} has no header`).toBe(1)
      expect(header?.text, path.relative(repoRoot, file)).toMatch(/\S[\s\S]*^@internal$/m)
    }
  })

  it("every @example typechecks, strict, under NodeNext", async () => {
    expect(examples.length).toBeGreaterThanOrEqual(5)
    // each example is a module of the package it documents, so that it resolves that package's own
    // dependencies (and the package itself, by name)
    const files = examples.map((block, i) => {
      const library = libraryEntryPoints().find((l) => path.join(repoRoot, block.file).startsWith(l.dir + path.sep))
      if (library === undefined) throw new Error(`${block.file}: not in a published library`)
      const folder = path.join(library.dir, ".api-examples")
      if (!folders.includes(folder)) folders.push(folder)
      fs.mkdirSync(folder, { recursive: true })
      const file = path.join(folder, `example${i}.ts`)
      fs.writeFileSync(file, `// ${block.file}:${block.line}\n${block.code}\n`)
      return file
    })
    const project = fs.mkdtempSync(path.join(repoRoot, ".api-examples-"))
    folders.push(project)
    fs.writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({ extends: "../tsconfig.base.json", compilerOptions: { noEmit: true }, files }, null, 2)
    )
    const output = await new Promise<string>((resolve) =>
      execFile(
        process.execPath,
        [tsc, "-p", project],
        { cwd: repoRoot },
        (error, stdout) => resolve(error === null ? "" : String(stdout))
      )
    )
    // name the doc comment of each error rather than the generated file
    const located = output.replace(
      /\S*example(\d+)\.ts\((\d+),(\d+)\)/g,
      (_, i: string, line: string, column: string) => {
        const block = examples[Number(i)]
        return block === undefined ? _ : `${block.file}:${block.line + Number(line) - 1}:${column}`
      }
    )
    expect(located).toBe("")
  })
})
