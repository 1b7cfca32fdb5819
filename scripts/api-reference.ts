/**
 * Generates the API reference of every published library with TypeDoc into `docs/reference/`
 * (not committed: it is built by CI and published with each release to {@link referenceUrl}).
 *
 *   pnpm docs:reference
 *
 * Fails on any TypeDoc warning (an undocumented export, a broken `{@link}`, a public declaration
 * referring to one that is not exported), on an entry point without its `@module` name, and on a
 * package README without its link to the package's reference page.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { libraryEntryPoints, referencePage, referenceUrl } from "./test/apiReference.js"
import { repoRoot } from "./test/workspace.js"

const out = path.join(repoRoot, "docs/reference")

/** The kinds of declaration that must have a doc comment (TypeDoc's `ReflectionKind`). */
const documentedKinds = new Map([
  [4, "namespace"],
  [8, "enum"],
  [32, "variable"],
  [64, "function"],
  [128, "class"],
  [256, "interface"],
  [2097152, "type alias"]
])

/** The TypeDoc options: every warning (a broken `{@link}`, a non-exported type in a signature) is an error. */
const options = (entryPoints: ReadonlyArray<string>, tsconfig: string, json: string) => ({
  entryPoints,
  tsconfig,
  name: "llama-orch",
  readme: "none",
  out,
  json,
  // the published repository, so that links to the source do not depend on this clone's remotes
  sourceLinkTemplate: "https://github.com/llama-orch/llama-orch/blob/{gitRevision}/{path}#L{line}",
  excludeExternals: true,
  excludePrivate: true,
  treatWarningsAsErrors: true,
  validation: { notExported: true, invalidLink: true },
  logLevel: "Warn"
})

/** A reflection of TypeDoc's JSON model, as far as the checks read it. */
interface Reflection {
  readonly name: string
  readonly kind: number
  readonly comment?: { readonly summary?: ReadonlyArray<{ readonly text: string }> }
  readonly signatures?: ReadonlyArray<Reflection>
  readonly children?: ReadonlyArray<Reflection>
}

const hasDoc = (r: Reflection): boolean =>
  [r, ...(r.signatures ?? [])].some((x) => (x.comment?.summary ?? []).some((part) => part.text.trim().length > 0))

/**
 * The exports without a doc comment, by qualified name. (TypeDoc 0.28's own `notDocumented`
 * validation reports nothing for a program of several entry points.)
 */
const undocumented = (r: Reflection, prefix: string): ReadonlyArray<string> =>
  (r.children ?? []).flatMap((child) => {
    const name = prefix === "" ? child.name : `${prefix}.${child.name}`
    const kind = documentedKinds.get(child.kind)
    const own = kind !== undefined && !hasDoc(child) ? [`${name} (${kind}) has no doc comment`] : []
    // the members of modules and namespaces are exports too; those of classes and interfaces are not
    return child.kind === 2 || child.kind === 4 ? [...own, ...undocumented(child, name)] : own
  })

/** Runs TypeDoc over the entry points into `out`, and returns its JSON model (undefined when it failed). */
const typedoc = (entryPoints: ReadonlyArray<string>): Reflection | undefined => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "typedoc-"))
  try {
    // the program of the entry points and what they import, not the tests the root tsconfig.json includes
    const tsconfig = path.join(dir, "tsconfig.json")
    const compilerOptions = { noEmit: true, typeRoots: [path.join(repoRoot, "node_modules/@types")] }
    const base = path.join(repoRoot, "tsconfig.base.json")
    fs.writeFileSync(tsconfig, JSON.stringify({ extends: base, compilerOptions, files: entryPoints }))
    const json = path.join(dir, "reference.json")
    const config = path.join(dir, "typedoc.json")
    fs.writeFileSync(config, JSON.stringify(options(entryPoints, tsconfig, json), null, 2))
    const bin = path.join(path.dirname(createRequire(import.meta.url).resolve("typedoc/package.json")), "bin/typedoc")
    const result = spawnSync(process.execPath, [bin, "--options", config], { cwd: repoRoot, stdio: "inherit" })
    return result.status === 0 ? JSON.parse(fs.readFileSync(json, "utf8")) : undefined
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const main = (): number => {
  const libraries = libraryEntryPoints()
  fs.rmSync(out, { recursive: true, force: true })
  const project = typedoc(libraries.flatMap((l) => l.entries.map((e) => e.file)))
  if (project === undefined) return 1
  const problems = [...undocumented(project, "")]
  for (const library of libraries) {
    for (const entry of library.entries) {
      const page = referencePage(entry.module)
      if (!fs.existsSync(path.join(out, page))) {
        const file = path.relative(repoRoot, entry.file)
        problems.push(`${file}: no page ${page} (is its \`@module ${entry.module}\` tag missing?)`)
      }
    }
    const readme = fs.readFileSync(path.join(library.dir, "README.md"), "utf8")
    const link = referenceUrl + referencePage(library.name)
    if (!readme.includes(`](${link})`)) problems.push(`${library.name}: README.md does not link to ${link}`)
  }
  for (const problem of problems) process.stderr.write(`docs:reference: ${problem}\n`)
  if (problems.length === 0) process.stdout.write(`docs:reference: ${path.relative(repoRoot, out)}/index.html\n`)
  return problems.length === 0 ? 0 : 1
}

process.exitCode = main()
