/**
 * The events engines stream, as schemas, and their decoding from the `data` of an SSE event.
 *
 * Every token of every task goes through here, so the usual shape is checked by hand first; any
 * input that check does not accept goes to the schema, whose verdict stands. The test suite checks
 * that the hand check never accepts what the schema rejects and answers what the schema answers.
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

/** A llama.cpp `/completion` stream event (fields the adapter reads; others are ignored). */
export const LlamaChunk = Schema.Struct({
  content: Schema.optional(Schema.String),
  stop: Schema.optional(Schema.Boolean),
  tokens_predicted: Schema.optional(Schema.Number),
  tokens_evaluated: Schema.optional(Schema.Number),
  timings: Schema.optional(Schema.Struct({ predicted_ms: Schema.optional(Schema.Number) }))
})

/** An OpenAI-compatible completion or chat completion stream chunk (fields the adapter reads). */
export const OpenAIChunk = Schema.Struct({
  choices: Schema.Array(Schema.Struct({
    text: Schema.optional(Schema.NullOr(Schema.String)),
    delta: Schema.optional(Schema.Struct({ content: Schema.optional(Schema.NullOr(Schema.String)) }))
  })),
  usage: Schema.optional(Schema.NullOr(Schema.Struct({
    prompt_tokens: Schema.optional(Schema.Number),
    completion_tokens: Schema.optional(Schema.Number)
  })))
})

type Llama = typeof LlamaChunk.Type
type OpenAI = typeof OpenAIChunk.Type

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const optional = (u: unknown, type: "string" | "number" | "boolean"): boolean => u === undefined || typeof u === type
const optionalText = (u: unknown): u is string | null | undefined =>
  u === undefined || u === null || typeof u === "string"

/** The hand check of a llama.cpp event: the decoded event, or `undefined` to ask the schema. */
export const quickLlama = (u: unknown): Llama | undefined => {
  if (!isRecord(u)) return undefined
  const { content, stop, timings, tokens_evaluated, tokens_predicted } = u
  if (
    !optional(content, "string") || !optional(stop, "boolean") || !optional(tokens_predicted, "number") ||
    !optional(tokens_evaluated, "number")
  ) return undefined
  let predicted: unknown
  if (timings !== undefined) {
    if (!isRecord(timings) || !optional(timings.predicted_ms, "number")) return undefined
    predicted = timings.predicted_ms
  }
  const out: { -readonly [K in keyof Llama]: Llama[K] } = {}
  if (typeof content === "string") out.content = content
  if (typeof stop === "boolean") out.stop = stop
  if (typeof tokens_predicted === "number") out.tokens_predicted = tokens_predicted
  if (typeof tokens_evaluated === "number") out.tokens_evaluated = tokens_evaluated
  if (timings !== undefined) out.timings = typeof predicted === "number" ? { predicted_ms: predicted } : {}
  return out
}

/** The hand check of an OpenAI chunk: the decoded chunk, or `undefined` to ask the schema. */
export const quickOpenAI = (u: unknown): OpenAI | undefined => {
  if (!isRecord(u) || !Array.isArray(u.choices)) return undefined
  const choices: Array<OpenAI["choices"][number]> = []
  for (const choice of u.choices) {
    if (!isRecord(choice)) return undefined
    const { delta, text } = choice
    if (!optionalText(text)) return undefined
    let content: string | null | undefined
    if (delta !== undefined) {
      if (!isRecord(delta)) return undefined
      const c = delta.content
      if (!optionalText(c)) return undefined
      content = c
    }
    choices.push({
      ...(text === undefined ? {} : { text }),
      ...(delta === undefined ? {} : { delta: content === undefined ? {} : { content } })
    })
  }
  const usage = u.usage
  if (usage === undefined || usage === null) return { choices, ...(usage === null ? { usage: null } : {}) }
  if (!isRecord(usage)) return undefined
  const { completion_tokens, prompt_tokens } = usage
  if (!optional(prompt_tokens, "number") || !optional(completion_tokens, "number")) return undefined
  return {
    choices,
    usage: {
      ...(typeof prompt_tokens === "number" ? { prompt_tokens } : {}),
      ...(typeof completion_tokens === "number" ? { completion_tokens } : {})
    }
  }
}

const parse = (data: string): Either.Either<unknown, void> => {
  try {
    return Either.right(JSON.parse(data))
  } catch {
    return Either.left(undefined)
  }
}

const decoder = <A, I>(schema: Schema.Schema<A, I>, quick: (u: unknown) => A | undefined) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (data: string): A | undefined => {
    const json = parse(data)
    if (Either.isLeft(json)) return undefined
    const quickly = quick(json.right)
    if (quickly !== undefined) return quickly
    const decoded = decode(json.right)
    return Either.isRight(decoded) ? decoded.right : undefined
  }
}

/** Decodes a llama.cpp event from its JSON text; `undefined` when it is not one. */
export const decodeLlama: (data: string) => Llama | undefined = decoder(LlamaChunk, quickLlama)

/** Decodes an OpenAI chunk from its JSON text; `undefined` when it is not one. */
export const decodeOpenAI: (data: string) => OpenAI | undefined = decoder(OpenAIChunk, quickOpenAI)
