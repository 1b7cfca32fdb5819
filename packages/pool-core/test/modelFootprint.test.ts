import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { describe, expect, it } from "@effect/vitest"
import { gguf } from "@huggingface/gguf"
import { Effect } from "effect"
import { ModelFootprint } from "../src/index.js"
import { type GgufTensor, type GgufValue, writeGguf } from "./support/ggufWriter.js"

// ggml type ids and sizes: F32 (0) 4 bytes; F16 (1) 2 bytes; Q8_0 (8) 34 bytes per 32; Q4_K (12) 144 bytes per 256
const tensors: ReadonlyArray<GgufTensor> = [
  { name: "token_embd.weight", shape: [64, 100], type: 0, bytes: 64 * 100 * 4 },
  { name: "blk.0.attn_q.weight", shape: [64, 64], type: 8, bytes: (64 * 64 / 32) * 34 },
  { name: "blk.1.attn_q.weight", shape: [64, 64], type: 1, bytes: 64 * 64 * 2 },
  { name: "output.weight", shape: [256, 4], type: 12, bytes: (256 * 4 / 256) * 144 }
]
const weightsBytes = 25600 + 4352 + 8192 + 576

const llama: ReadonlyArray<readonly [string, GgufValue]> = [
  ["general.architecture", { type: "string", value: "llama" }],
  ["general.name", { type: "string", value: "tiny test llama" }],
  ["llama.block_count", { type: "u32", value: 2 }],
  ["llama.context_length", { type: "u32", value: 2048 }],
  ["llama.embedding_length", { type: "u32", value: 64 }],
  ["llama.attention.head_count", { type: "u32", value: 4 }],
  ["llama.attention.head_count_kv", { type: "u32", value: 2 }],
  ["llama.rope.freq_base", { type: "f32", value: 10000 }]
]

const mib = 1024 * 1024

const withDir = <A, E>(body: (dir: string, path: Path.Path) => Effect.Effect<A, E, FileSystem.FileSystem>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    return yield* body(yield* fs.makeTempDirectoryScoped({ prefix: "gguf-" }), path)
  }).pipe(Effect.scoped, Effect.provide(NodeContext.layer))

describe("ModelFootprint.estimateGguf", () => {
  it.effect("adds the tensor table's weights, the KV cache for ctx × slots and the stated overhead", () =>
    withDir((dir, path) =>
      Effect.gen(function*() {
        const file = path.join(dir, "tiny.gguf")
        yield* writeGguf(file, llama, tensors)
        // the layout: the data section starts aligned right after the tensor table and holds every tensor
        const parsed = yield* Effect.promise(() => gguf(file, { allowLocalFile: true }))
        expect(parsed.metadata.version).toBe(3)
        expect(Number(parsed.tensorDataOffset) % 32).toBe(0)
        expect(parsed.tensorInfos.map((t) => Number(t.offset))).toEqual([0, 25600, 25600 + 4352, 25600 + 4352 + 8192])
        const size = (yield* (yield* FileSystem.FileSystem).stat(file)).size
        expect(Number(size)).toBe(Number(parsed.tensorDataOffset) + 25600 + 4352 + 8192 + 576)
        const estimate = yield* ModelFootprint.estimateGguf(file, { ctxMax: 256, slots: 2 })
        // head width 64 / 4 = 16; per layer k and v are 2 kv heads × 16 = 32 wide; f16 = 2 bytes
        const kvCacheBytes = 256 * 2 * 2 * (32 + 32) * 2
        expect(estimate).toMatchObject({
          architecture: "llama",
          tensors: 4,
          layers: 2,
          kvTokens: 512,
          weightsBytes,
          kvCacheBytes,
          overheadBytes: ModelFootprint.defaultOverheadMb * mib
        })
        expect(estimate.totalMb).toBe(Math.ceil((weightsBytes + kvCacheBytes) / mib + ModelFootprint.defaultOverheadMb))
        // a q8_0 cache halves the KV part; the overhead is what the caller states
        const q8 = yield* ModelFootprint.estimateGguf(file, {
          ctxMax: 256,
          slots: 2,
          kvBytesPerElement: 1,
          overheadMb: 0
        })
        expect([q8.kvCacheBytes, q8.overheadBytes, q8.totalMb]).toEqual([kvCacheBytes / 2, 0, 1])
      })
    ))

  it.effect("takes per-layer KV heads and explicit key and value widths", () =>
    withDir((dir, path) =>
      Effect.gen(function*() {
        const file = path.join(dir, "gemma.gguf")
        yield* writeGguf(file, [
          ["general.architecture", { type: "string", value: "gemma2" }],
          ["gemma2.block_count", { type: "u32", value: 3 }],
          ["gemma2.embedding_length", { type: "u32", value: 64 }],
          ["gemma2.attention.head_count", { type: "u32", value: 8 }],
          ["gemma2.attention.head_count_kv", { type: "u32[]", value: [1, 2, 4] }],
          ["gemma2.attention.key_length", { type: "u32", value: 32 }],
          ["gemma2.attention.value_length", { type: "u32", value: 16 }]
        ], tensors.slice(0, 1))
        const estimate = yield* ModelFootprint.estimateGguf(file, { ctxMax: 100, slots: 3, overheadMb: 0 })
        expect(estimate.kvCacheBytes).toBe(300 * (1 + 2 + 4) * (32 + 16) * 2)
        expect(estimate.weightsBytes).toBe(25600)
      })
    ))

  it.effect("sums the weights of every shard of a split model", () =>
    withDir((dir, path) =>
      Effect.gen(function*() {
        yield* writeGguf(path.join(dir, "big-00001-of-00002.gguf"), llama, tensors.slice(0, 2))
        yield* writeGguf(path.join(dir, "big-00002-of-00002.gguf"), [], tensors.slice(2))
        const estimate = yield* ModelFootprint.estimateGguf(path.join(dir, "big-00001-of-00002.gguf"), {
          ctxMax: 256,
          slots: 2
        })
        expect([estimate.tensors, estimate.weightsBytes]).toEqual([4, weightsBytes])
      })
    ))

  it.effect("fails with the reason when the file is missing, not GGUF, or lacks attention metadata", () =>
    withDir((dir, path) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const missing = yield* Effect.flip(
          ModelFootprint.estimateGguf(path.join(dir, "none.gguf"), { ctxMax: 1, slots: 1 })
        )
        expect(missing._tag).toBe("FootprintEstimateFailed")
        expect(missing.message).toContain("none.gguf")
        yield* fs.writeFileString(path.join(dir, "text.gguf"), "this is not a model file at all, only text")
        const notGguf = yield* Effect.flip(
          ModelFootprint.estimateGguf(path.join(dir, "text.gguf"), { ctxMax: 1, slots: 1 })
        )
        expect(notGguf.reason).toContain("not a valid gguf file")
        yield* writeGguf(
          path.join(dir, "mamba.gguf"),
          [["general.architecture", { type: "string", value: "mamba" }]],
          []
        )
        const noAttention = yield* Effect.flip(
          ModelFootprint.estimateGguf(path.join(dir, "mamba.gguf"), { ctxMax: 1, slots: 1 })
        )
        expect(noAttention.message).toBe(
          `cannot estimate the memory footprint of ${
            path.join(dir, "mamba.gguf")
          }: it has no mamba.block_count and mamba.attention.head_count (not an attention model?)`
        )
        yield* writeGguf(path.join(dir, "odd.gguf"), llama, [{ name: "odd", shape: [32], type: 99, bytes: 32 }])
        const oddType = yield* Effect.flip(
          ModelFootprint.estimateGguf(path.join(dir, "odd.gguf"), { ctxMax: 1, slots: 1 })
        )
        expect(oddType.reason).toBe("tensor odd has ggml type 99, whose size is not known")
      })
    ))
})
