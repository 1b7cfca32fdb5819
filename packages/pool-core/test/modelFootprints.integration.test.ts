/**
 * Footprints of catalogued models that declare none, on the embedded manager with real engines: a
 * model's GGUF header gives the estimate its load reserves; what a Ready engine reports using
 * replaces the reservation and is remembered in the state directory, so the next manager reserves
 * it before the engine starts.
 */
import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ModelFootprint, PoolManager } from "../src/index.js"
import { type GgufValue, writeGguf } from "./support/ggufWriter.js"
import { withManager } from "./support/harness.js"

const llama: ReadonlyArray<readonly [string, GgufValue]> = [
  ["general.architecture", { type: "string", value: "llama" }],
  ["llama.block_count", { type: "u32", value: 2 }],
  ["llama.embedding_length", { type: "u32", value: 64 }],
  ["llama.attention.head_count", { type: "u32", value: 4 }],
  ["llama.attention.head_count_kv", { type: "u32", value: 2 }]
]

const catalog = (modelDir: string, stateDir: string) => ({
  stateDir,
  modelDir,
  models: [
    // no file to read: nothing known until its engine reports 600 MiB
    { id: "learn", engine: "mock", model: "learn.gguf", args: ["--footprint-mb", "600"] },
    // a GGUF header to estimate from (512 MiB overhead and a few KiB)
    { id: "est", engine: "mock", model: "est.gguf" },
    { id: "small", engine: "mock", model: "small.gguf", footprintMb: 450 }
  ],
  devices: [{ id: "0", memoryMb: 1_000 }],
  defaultMinResidencyMs: 0
})

const stateOf = (id: string) =>
  Effect.map(Effect.flatMap(PoolManager, (pm) => pm.models), (models) => models.find((m) => m.id === id))

describe("footprints of catalogued models", () => {
  it.live("estimated from GGUF, learned from the engine, remembered across managers", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const modelDir = yield* fs.makeTempDirectoryScoped({ prefix: "pool-core-models-" })
      const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "pool-core-state-" })
      yield* writeGguf(path.join(modelDir, "est.gguf"), llama, [
        { name: "token_embd.weight", shape: [64, 100], type: 0, bytes: 64 * 100 * 4 }
      ])
      const estimate = yield* ModelFootprint.estimateGguf(path.join(modelDir, "est.gguf"), { ctxMax: 4096, slots: 1 })

      yield* withManager(catalog(modelDir, stateDir), () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          yield* pm.load("learn")
          expect(yield* stateOf("learn")).toMatchObject({
            state: "loaded",
            footprintMb: 600,
            footprintSource: "learned"
          })
          // the learned 600 MiB is reserved: the estimate does not fit beside it, so `learn` makes room
          yield* pm.load("est")
          expect(yield* stateOf("est")).toMatchObject({
            state: "loaded",
            footprintMb: estimate.totalMb,
            footprintSource: "estimated"
          })
          expect(yield* stateOf("learn")).toMatchObject({ state: "unloaded" })
        }))
      const stored = yield* fs.readFileString(path.join(stateDir, "footprints.json"))
      expect(stored).toContain("600")

      // a new manager on the same state directory reserves the learned footprint before the start
      yield* withManager(catalog(modelDir, stateDir), () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          yield* pm.load("small")
          yield* pm.load("learn")
          expect(yield* stateOf("small")).toMatchObject({ state: "unloaded" })
          expect(yield* stateOf("learn")).toMatchObject({ state: "loaded", footprintMb: 600 })
        }))
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 120_000)
})
