/**
 * A TypeScript entry point bundled once with esbuild: it runs with plain Node, each module keeps
 * its own `import.meta.url`, the bundle is reused while the sources are unchanged and rebuilt when
 * one changes, and `SpawnDaemon` runs a TypeScript entry from its bundle.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { SourceBundle, SpawnDaemon } from "@llama-orch/daemon-kit"
import { Effect, Option } from "effect"
import { pathToFileURL } from "node:url"

/** A package in a temporary directory: `src/bin.ts` prints the `import.meta.url` of a module it imports, and its text. */
const tempPackage = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "source-bundle-" })
  yield* fs.makeDirectory(`${dir}/src`)
  yield* fs.writeFileString(`${dir}/package.json`, JSON.stringify({ name: "bundled", type: "module" }))
  yield* fs.writeFileString(`${dir}/src/note.txt`, "next to the sources")
  yield* fs.writeFileString(
    `${dir}/src/where.ts`,
    [
      "import { existsSync, readFileSync } from \"node:fs\"",
      "// a comment naming import.meta.url, and a string: keep both",
      "export const text: string = \"import.meta.url\"",
      "export const where: string = import.meta.url",
      "const file = new URL(\"./note.txt\", import.meta.url)",
      "export const note: string = existsSync(file) ? readFileSync(file, \"utf8\") : \"no note\""
    ].join("\n")
  )
  yield* fs.writeFileString(
    `${dir}/src/bin.ts`,
    [
      "import { note, text, where } from \"./where.js\"",
      "const greeting: string = \"one\"",
      "console.log(JSON.stringify({ greeting, where, text, note, argv1: process.argv[1], execArgv: process.execArgv }))"
    ].join("\n")
  )
  return { dir, entry: `${dir}/src/bin.ts` }
})

const json = (text: string): unknown => JSON.parse(text)

const runBundle = (bundle: string) =>
  Effect.map(SpawnDaemon.runToExit({ entry: bundle }), ({ exit, stdout }) => ({ exit, out: json(stdout) }))

describe("SourceBundle", () => {
  it.scopedLive(
    "bundles a TypeScript entry to run with plain node; each module keeps its import.meta.url; reused until a source changes",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const { dir, entry } = yield* tempPackage
        const bundle = Option.getOrThrow(yield* SourceBundle.bundledEntry(entry))
        expect(bundle.startsWith(`${dir}/node_modules/.cache/source-bundle/`)).toBe(true)
        expect(bundle.endsWith(".mjs")).toBe(true)
        const first = yield* runBundle(bundle)
        expect(first.exit).toEqual({ _tag: "Exited", code: 0 })
        expect(first.out).toEqual({
          greeting: "one",
          where: pathToFileURL(`${dir}/src/where.ts`).href,
          text: "import.meta.url",
          note: "next to the sources",
          argv1: bundle,
          execArgv: []
        })
        // unchanged sources: the same bundle, not rebuilt
        const mtime = (yield* fs.stat(bundle)).mtime
        expect(yield* SourceBundle.bundledEntry(entry)).toEqual(Option.some(bundle))
        expect((yield* fs.stat(bundle)).mtime).toEqual(mtime)
        // a changed source: a new bundle with the change
        yield* fs.writeFileString(
          entry,
          (yield* fs.readFileString(entry)).replace("\"one\"", "\"two\"")
        )
        const rebuilt = Option.getOrThrow(yield* SourceBundle.bundledEntry(entry))
        expect(rebuilt).not.toBe(bundle)
        expect((yield* runBundle(rebuilt)).out).toMatchObject({ greeting: "two" })
        // the synchronous build is kept apart: there the modules share the bundle's URL
        const sync = Option.getOrThrow(SourceBundle.bundledEntrySync(entry))
        expect(sync).not.toBe(rebuilt)
        expect((yield* runBundle(sync)).out).toMatchObject({ where: pathToFileURL(sync).href, note: "no note" })
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.scopedLive(
    "is None for a file that does not build, and SpawnDaemon then runs the source through tsx",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const { dir } = yield* tempPackage
        yield* fs.writeFileString(
          `${dir}/src/broken.ts`,
          "import { missing } from \"./nowhere.js\"\nconsole.log(missing)\n"
        )
        expect(yield* SourceBundle.bundledEntry(`${dir}/src/broken.ts`)).toEqual(Option.none())
        expect(SourceBundle.bundledEntrySync(`${dir}/src/broken.ts`)).toEqual(Option.none())
        const viaTsx = yield* SpawnDaemon.runToExit({ entry: `${dir}/src/broken.ts` })
        expect(viaTsx.stderr).toContain("nowhere")
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.scopedLive("SpawnDaemon runs a TypeScript entry from its bundle, with no loader", () =>
    Effect.gen(function*() {
      const { entry } = yield* tempPackage
      const { exit, stdout } = yield* SpawnDaemon.runToExit({ entry })
      expect(exit).toEqual({ _tag: "Exited", code: 0 })
      expect(json(stdout)).toMatchObject({
        execArgv: [],
        argv1: Option.getOrThrow(yield* SourceBundle.bundledEntry(entry))
      })
    }).pipe(Effect.provide(NodeContext.layer)), 60_000)
})
