import * as fs from "node:fs"
import * as path from "node:path"
import { type CodeBlock, codeBlocks } from "./docs.js"
import { repoRoot, workspacePackages } from "./workspace.js"

/** Where the generated API reference (`pnpm docs:reference`, `docs/reference/`) is published. */
export const referenceUrl = "https://llama-orch.github.io/llama-orch/"

/** The page of the API reference that documents a module (`@llama-orch/pool-core/testing`). */
export const referencePage = (module: string): string => `modules/${module.replace(/[^a-zA-Z0-9-]/g, "_")}.html`

/** One entry point of a published library: its import path and its source file. */
export interface EntryPoint {
  readonly module: string
  readonly file: string
}

/** A published library (a package with a `"."` export) and its entry points. */
export interface Library {
  readonly name: string
  readonly dir: string
  readonly entries: ReadonlyArray<EntryPoint>
}

interface Manifest {
  readonly exports?: Record<string, string | null | Record<string, string>>
}

/**
 * The published libraries and their entry points: every subpath of `exports` but pattern ones
 * (`./*`, whose modules the named entry points re-export) and `./package.json`.
 */
export const libraryEntryPoints = (root: string = repoRoot): ReadonlyArray<Library> =>
  workspacePackages(root).filter((p) => !p.private).flatMap((pkg) => {
    const manifest: Manifest = JSON.parse(fs.readFileSync(path.join(pkg.dir, "package.json"), "utf8"))
    const entries = Object.entries(manifest.exports ?? {}).flatMap(([subpath, target]) => {
      const source = typeof target === "object" && target !== null ? target["@llama-orch/source"] : undefined
      if (subpath.includes("*") || source === undefined) return []
      return [{ module: pkg.name + subpath.slice(1), file: path.join(pkg.dir, source) }]
    })
    return entries.some((e) => e.module === pkg.name) ? [{ name: pkg.name, dir: pkg.dir, entries }] : []
  })

/** The modules users may import from the published libraries: every `src/` module but internal ones and `bin.ts`. */
export const publicModules = (root: string = repoRoot): ReadonlyArray<string> =>
  libraryEntryPoints(root).flatMap((library) => {
    const src = path.join(library.dir, "src")
    return fs.readdirSync(src).filter((f) => f.endsWith(".ts") && f !== "bin.ts").map((f) => path.join(src, f))
  })

/** The internal modules (`src/internal/`) of every package and app. */
export const internalModules = (root: string = repoRoot): ReadonlyArray<string> =>
  workspacePackages(root).flatMap((pkg) => {
    const dir = path.join(pkg.dir, "src/internal")
    return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".ts")).map((f) => path.join(dir, f)) : []
  })

/** A `/** ... *\/` comment of a source file, without its leading `*`s, and the declaration after it. */
export interface DocComment {
  readonly file: string
  /** The line of its opening `/**` (1-based). */
  readonly line: number
  readonly text: string
  /** The first line of code after the comment. */
  readonly declaration: string
}

/** The doc comments of a TypeScript source text. */
export const docComments = (file: string, source: string): ReadonlyArray<DocComment> => {
  const comments: Array<DocComment> = []
  const lines = source.split("\n")
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*\/\*\*/.test(lines[i] ?? "")) continue
    const end = lines.findIndex((l, j) => j >= i && l.includes("*/"))
    if (end === -1) break
    const text = lines.slice(i, end + 1).map((l) => l.replace(/^\s*\/?\*+\/?\s?/, "").replace(/\s*\*\/$/, ""))
    comments.push({ file, line: i + 1, text: text.join("\n"), declaration: (lines[end + 1] ?? "").trim() })
    i = end
  }
  return comments
}

/** The fenced `ts` blocks of the `@example` tags of a doc comment, with their lines in the source file. */
export const exampleBlocks = (comment: DocComment): ReadonlyArray<CodeBlock> => {
  const lines = comment.text.split("\n")
  return lines.flatMap((line, i) => {
    if (!line.startsWith("@example")) return []
    const end = lines.findIndex((l, j) => j > i && /^@\w+/.test(l))
    const body = lines.slice(i + 1, end === -1 ? undefined : end).join("\n")
    return codeBlocks(comment.file, body).filter((b) => b.lang === "ts").map((b) => ({
      ...b,
      line: comment.line + i + b.line
    }))
  })
}

/** Whether a declaration is a service: a `Context.Tag`, `Context.Reference` or `Effect.Service` class. */
export const isService = (declaration: string): boolean =>
  /^export class \w+ extends (Context\.(Tag|Reference)|Effect\.Service)\b/.test(declaration)

/** The doc comments of the public modules of the published libraries. */
export const publicDocComments = (root: string = repoRoot): ReadonlyArray<DocComment> =>
  publicModules(root).flatMap((file) => docComments(path.relative(root, file), fs.readFileSync(file, "utf8")))
