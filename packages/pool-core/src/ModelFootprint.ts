/**
 * How much device memory a model needs before it ever ran, estimated from its GGUF file's header:
 * the weights (every tensor of the tensor table at its type's size), the KV cache for `slots`
 * sequences of `ctxMax` tokens (from the attention metadata), and a fixed overhead for the runtime's
 * context and compute buffers. Only the header is read, never the weights; split models
 * (`name-00001-of-00003.gguf`) are read shard by shard.
 *
 * @since 0.1.0
 */
import { GGMLQuantizationType, ggufAllShards } from "@huggingface/gguf"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/**
 * The GGUF file could not be read or does not say what an estimate needs (its reason says which).
 *
 * @category errors
 * @since 0.1.0
 */
export class FootprintEstimateFailed extends Schema.TaggedError<FootprintEstimateFailed>()("FootprintEstimateFailed", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot estimate the memory footprint of ${this.path}: ${this.reason}`
  }
}

/**
 * An estimate and its parts, in bytes; `totalMb` is their sum in MiB, rounded up.
 *
 * @category models
 * @since 0.1.0
 */
export class FootprintEstimate extends Schema.Class<FootprintEstimate>("FootprintEstimate")({
  architecture: Schema.String,
  tensors: Schema.Int,
  layers: Schema.Int,
  /** Tokens the KV cache holds: `ctxMax × slots`. */
  kvTokens: Schema.Int,
  weightsBytes: Schema.Number,
  kvCacheBytes: Schema.Number,
  overheadBytes: Schema.Number,
  totalMb: Schema.Int
}) {}

/**
 * What the estimate assumes besides the file: context per slot, slots, the KV cache's bytes per
 * element (2: llama.cpp's default f16 cache; 1 for q8_0) and the fixed overhead in MiB.
 *
 * @category models
 * @since 0.1.0
 */
export interface EstimateOptions {
  readonly ctxMax: number
  readonly slots: number
  readonly kvBytesPerElement?: number
  readonly overheadMb?: number
}

/**
 * The fixed overhead an estimate adds when not told otherwise: the CUDA context and compute buffers
 * of a llama.cpp engine, in MiB.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultOverheadMb = 512

const mib = 1024 * 1024
const Q = GGMLQuantizationType

// [elements per block, bytes per block] of each ggml tensor type (ggml's type traits)
const blockSizes: ReadonlyMap<number, readonly [number, number]> = new Map([
  [Q.F32, [1, 4]],
  [Q.F16, [1, 2]],
  [Q.BF16, [1, 2]],
  [Q.F64, [1, 8]],
  [Q.I8, [1, 1]],
  [Q.I16, [1, 2]],
  [Q.I32, [1, 4]],
  [Q.I64, [1, 8]],
  [Q.Q4_0, [32, 18]],
  [Q.Q4_1, [32, 20]],
  [Q.Q5_0, [32, 22]],
  [Q.Q5_1, [32, 24]],
  [Q.Q8_0, [32, 34]],
  [Q.Q8_1, [32, 36]],
  [Q.IQ4_NL, [32, 18]],
  [Q.MXFP4, [32, 17]],
  [Q.NVFP4, [64, 36]],
  [Q.Q1_0, [128, 18]],
  [Q.Q2_0, [64, 18]],
  [Q.Q2_K, [256, 84]],
  [Q.Q3_K, [256, 110]],
  [Q.Q4_K, [256, 144]],
  [Q.Q5_K, [256, 176]],
  [Q.Q6_K, [256, 210]],
  [Q.Q8_K, [256, 292]],
  [Q.IQ2_XXS, [256, 66]],
  [Q.IQ2_XS, [256, 74]],
  [Q.IQ2_S, [256, 82]],
  [Q.IQ3_XXS, [256, 98]],
  [Q.IQ3_S, [256, 110]],
  [Q.IQ1_S, [256, 50]],
  [Q.IQ1_M, [256, 56]],
  [Q.IQ4_XS, [256, 136]],
  [Q.TQ1_0, [256, 54]],
  [Q.TQ2_0, [256, 66]]
])

/** A tensor's size in bytes, or why it has none. */
const tensorBytes = (
  tensor: { readonly name: string; readonly shape: ReadonlyArray<bigint>; readonly dtype: number }
) => {
  const size = blockSizes.get(tensor.dtype)
  if (size === undefined) return `tensor ${tensor.name} has ggml type ${tensor.dtype}, whose size is not known`
  const elements = tensor.shape.reduce((product, dim) => product * Number(dim), 1)
  return Math.ceil(elements / size[0]) * size[1]
}

const count = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) ? value : typeof value === "bigint" ? Number(value) : undefined

/** KV cache bytes per token: Σ over layers of (key width + value width) × bytes per element. */
const kvBytesPerToken = (
  metadata: ReadonlyMap<string, unknown>,
  arch: string,
  bytesPerElement: number
): number | string => {
  const key = (name: string) => `${arch}.${name}`
  const layers = count(metadata.get(key("block_count")))
  const heads = count(metadata.get(key("attention.head_count")))
  const embedding = count(metadata.get(key("embedding_length")))
  if (layers === undefined || heads === undefined || heads <= 0) {
    return `it has no ${key("block_count")} and ${key("attention.head_count")} (not an attention model?)`
  }
  const headWidth = (name: string) =>
    count(metadata.get(key(name))) ?? (embedding === undefined ? 0 : embedding / heads)
  const keyWidth = headWidth("attention.key_length")
  const valueWidth = headWidth("attention.value_length")
  if (keyWidth <= 0 || valueWidth <= 0) return `it has no ${key("embedding_length")} nor key and value lengths`
  const kvHeads = metadata.get(key("attention.head_count_kv"))
  let perToken = 0
  for (let layer = 0; layer < layers; layer++) {
    const headsKv = Array.isArray(kvHeads) ? count(kvHeads[layer]) ?? heads : count(kvHeads) ?? heads
    perToken += headsKv * (keyWidth + valueWidth) * bytesPerElement
  }
  return perToken
}

/**
 * Estimates the device memory a GGUF model needs with `slots` sequences of `ctxMax` tokens.
 *
 * @category utils
 * @since 0.1.0
 */
export const estimateGguf = (
  path: string,
  options: EstimateOptions
): Effect.Effect<FootprintEstimate, FootprintEstimateFailed> =>
  Effect.gen(function*() {
    const fail = (reason: string) => new FootprintEstimateFailed({ path, reason })
    const { shards } = yield* Effect.tryPromise({
      try: () => ggufAllShards(path, { allowLocalFile: true }),
      catch: (error) => fail(error instanceof Error ? error.message : String(error))
    })
    const first = shards[0]
    if (first === undefined) return yield* fail("it has no shards")
    const metadata = new Map<string, unknown>(Object.entries(first.metadata))
    const arch = metadata.get("general.architecture")
    if (typeof arch !== "string") return yield* fail("its metadata has no general.architecture")
    const tensors = shards.flatMap((shard) => shard.tensorInfos)
    let weightsBytes = 0
    for (const tensor of tensors) {
      const bytes = tensorBytes(tensor)
      if (typeof bytes === "string") return yield* fail(bytes)
      weightsBytes += bytes
    }
    const perToken = kvBytesPerToken(metadata, arch, options.kvBytesPerElement ?? 2)
    if (typeof perToken === "string") return yield* fail(perToken)
    const kvTokens = options.ctxMax * options.slots
    const kvCacheBytes = perToken * kvTokens
    const overheadBytes = (options.overheadMb ?? defaultOverheadMb) * mib
    return new FootprintEstimate({
      architecture: arch,
      tensors: tensors.length,
      layers: count(metadata.get(`${arch}.block_count`)) ?? 0,
      kvTokens,
      weightsBytes,
      kvCacheBytes,
      overheadBytes,
      totalMb: Math.ceil((weightsBytes + kvCacheBytes + overheadBytes) / mib)
    })
  })
