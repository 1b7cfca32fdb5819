import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import { FootprintStore } from "../src/index.js"

const key = FootprintStore.footprintKey({ engine: "llama", model: "qwen-7b.gguf", ctxMax: 8192, slots: 4 })

const inStateDir = <A, E>(
  body: (dir: string, file: string) => Effect.Effect<A, E, FileSystem.FileSystem | Path.Path>
) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "footprints-" })
    return yield* body(dir, path.join(dir, FootprintStore.fileName))
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer))

describe("FootprintStore", () => {
  it("keys a model by engine, file, context, slots and engine arguments", () => {
    const base = { engine: "llama", model: "m.gguf", ctxMax: 4096, slots: 1 }
    const keys = new Set([
      FootprintStore.footprintKey(base),
      FootprintStore.footprintKey({ ...base, ctxMax: 8192 }),
      FootprintStore.footprintKey({ ...base, slots: 2 }),
      FootprintStore.footprintKey({ ...base, args: ["--flash-attn"] }),
      FootprintStore.footprintKey({ ...base, engine: "vllm" })
    ])
    expect(keys.size).toBe(5)
    expect(FootprintStore.footprintKey({ ...base, args: [] })).toBe(FootprintStore.footprintKey(base))
  })

  it.effect("persists what it learns and reads it back after a restart", () =>
    inStateDir((dir, file) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        yield* TestClock.setTime(1_700_000_000_000)
        const first = yield* FootprintStore.make(dir)
        expect(yield* first.get(key)).toEqual(Option.none())
        yield* first.learn(key, 5120.4, "nvidia-smi")
        yield* first.learn("other", 900, "engine")
        yield* first.forget("other")
        // written atomically: only the file itself, private
        expect(yield* fs.readDirectory(dir)).toEqual([FootprintStore.fileName])
        expect(((yield* fs.stat(file)).mode & 0o777).toString(8)).toBe("600")

        const restarted = yield* FootprintStore.make(dir)
        expect(yield* restarted.all).toEqual([
          new FootprintStore.LearnedFootprint({
            key,
            footprintMb: 5121,
            learnedAt: 1_700_000_000_000,
            source: "nvidia-smi"
          })
        ])
        // a later measurement replaces the earlier one, and that survives a restart too
        yield* restarted.learn(key, 6000, "engine")
        const again = yield* FootprintStore.make(dir)
        expect(Option.map(yield* again.get(key), (entry) => [entry.footprintMb, entry.source])).toEqual(
          Option.some([6000, "engine"])
        )
      })
    ))

  it.effect("starts empty from a file that is not valid, and replaces it on the next write", () =>
    inStateDir((dir, file) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        for (
          const text of [
            "{ not json",
            JSON.stringify({ version: 2, footprints: [] }),
            JSON.stringify({ version: 1, footprints: [{ key, footprintMb: -5, learnedAt: 0, source: "nvidia-smi" }] })
          ]
        ) {
          yield* fs.writeFileString(file, text)
          const store = yield* FootprintStore.make(dir)
          expect(yield* store.all).toEqual([])
        }
        const store = yield* FootprintStore.make(dir)
        yield* store.learn(key, 100, "engine")
        expect(JSON.parse(yield* fs.readFileString(file))).toEqual({
          version: 1,
          footprints: [{ key, footprintMb: 100, learnedAt: 0, source: "engine" }]
        })
      })
    ))
})
