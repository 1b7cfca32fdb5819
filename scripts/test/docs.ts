import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { repoRoot } from "./workspace.js"

/** A fenced code block of a Markdown file. */
export interface CodeBlock {
  /** The file, relative to the repository root. */
  readonly file: string
  /** The line of its opening fence (1-based). */
  readonly line: number
  /** The info string after the fence (`ts`, `sh`, ...). */
  readonly lang: string
  readonly code: string
}

/** The Markdown files users read: every tracked `.md` but changesets and changelogs. */
export const userDocs = (root: string = repoRoot): ReadonlyArray<string> =>
  execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "*.md"], {
    cwd: root,
    encoding: "utf8"
  }).split("\0").filter((f) =>
    f.length > 0 && !f.startsWith(".changeset/") && path.basename(f) !== "CHANGELOG.md" &&
    fs.existsSync(path.join(root, f))
  ).sort()

/** The fenced code blocks of a Markdown text. */
export const codeBlocks = (file: string, text: string): ReadonlyArray<CodeBlock> => {
  const blocks: Array<CodeBlock> = []
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)/.exec(lines[i] ?? "")
    if (open === null) continue
    const end = lines.findIndex((l, j) => j > i && l.startsWith("```"))
    if (end === -1) break
    blocks.push({ file, line: i + 1, lang: open[1] ?? "", code: lines.slice(i + 1, end).join("\n") })
    i = end
  }
  return blocks
}

/** Every fenced block of the user docs. */
export const docBlocks = (root: string = repoRoot): ReadonlyArray<CodeBlock> =>
  userDocs(root).flatMap((file) => codeBlocks(file, fs.readFileSync(path.join(root, file), "utf8")))

/**
 * The packages named by the `npm install`/`npm i`/`pnpm add`/`yarn add` commands in a shell block,
 * as written (`effect@^3.22.4`, `@effect/rpc`, ...).
 */
export const installedSpecs = (code: string): ReadonlyArray<string> =>
  code.split("\n").flatMap((line) => {
    const command = /^\s*(?:npm (?:install|i|add)|pnpm add|yarn add)\s+(.*)$/.exec(line.replace(/#.*$/, ""))
    return command?.[1] === undefined ? [] : command[1].split(/\s+/).filter((w) => w.length > 0 && !w.startsWith("-"))
  })

/** Splits `name@range` (the name may be scoped) into its name and range (`""` when unpinned). */
export const splitSpec = (spec: string): { readonly name: string; readonly range: string } => {
  const at = spec.indexOf("@", 1)
  return at === -1 ? { name: spec, range: "" } : { name: spec.slice(0, at), range: spec.slice(at + 1) }
}
