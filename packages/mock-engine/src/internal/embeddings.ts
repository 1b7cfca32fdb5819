/**
 * `POST /v1/embeddings` (and `/embeddings`), as llama-server serves it when started with
 * `--embeddings`: one deterministic unit vector per input (a fixed function of its text), as
 * floats or as base64 of little-endian float32 (`encoding_format`, which the official clients ask
 * for by default). Without `--embeddings` it answers 501, as llama-server does.
 *
 * @internal
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { countTokens } from "./generator.js"
import { decodeBody, openAiError, reject } from "./http.js"
import { EngineState } from "./state.js"

/** The length of the mock's vectors unless `dimensions` asks for fewer. */
export const embeddingSize = 16

const EmbeddingsBody = Schema.Struct({
  model: Schema.optional(Schema.String),
  input: Schema.Union(
    Schema.String,
    Schema.Array(Schema.String).pipe(Schema.minItems(1)),
    Schema.Array(Schema.Int).pipe(Schema.minItems(1)),
    Schema.Array(Schema.Array(Schema.Int).pipe(Schema.minItems(1))).pipe(Schema.minItems(1))
  ),
  encoding_format: Schema.optional(Schema.Literal("float", "base64")),
  dimensions: Schema.optional(Schema.Int.pipe(Schema.between(1, embeddingSize)))
})

/** The inputs as texts: a token array reads as its numbers joined by spaces. */
const texts = (input: typeof EmbeddingsBody.Type["input"]): ReadonlyArray<string> => {
  if (typeof input === "string") return [input]
  if (input.every((item) => typeof item === "number")) return [input.join(" ")]
  return input.map((item) => typeof item === "string" ? item : item.join(" "))
}

/** A unit vector of `size` numbers that depends only on `text`. */
export const embed = (text: string, size: number): ReadonlyArray<number> => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  const raw = Array.from({ length: size }, (_, i) => {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d + i) >>> 0
    return (h % 2001) / 1000 - 1
  })
  const norm = Math.hypot(...raw) || 1
  return raw.map((x) => Math.fround(x / norm))
}

const base64 = (vector: ReadonlyArray<number>): string => {
  const bytes = Buffer.alloc(vector.length * 4)
  vector.forEach((x, i) => bytes.writeFloatLE(x, i * 4))
  return bytes.toString("base64")
}

/** The embeddings route. */
export const embeddings = Effect.gen(function*() {
  const state = yield* EngineState
  if (!state.config.embeddings) {
    return openAiError(
      reject(501, "This server does not support embeddings. Start it with `--embeddings`", "not_supported_error")
    )
  }
  const body = yield* decodeBody(EmbeddingsBody)
  if (Either.isLeft(body)) return openAiError(body.left)
  const request = body.right
  const inputs = texts(request.input)
  const size = request.dimensions ?? embeddingSize
  const tokens = inputs.reduce((sum, text) => sum + countTokens(text), 0)
  return HttpServerResponse.unsafeJson({
    object: "list",
    data: inputs.map((text, index) => {
      const vector = embed(text, size)
      return { object: "embedding", index, embedding: request.encoding_format === "base64" ? base64(vector) : vector }
    }),
    model: state.config.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens }
  })
})
