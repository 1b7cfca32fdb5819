/**
 * The events engines stream, as schemas, and their decoding from the `data` of an SSE event.
 *
 * Every token of every task goes through here, so the usual shape is checked by hand first; any
 * input that check does not accept goes to the schema, whose verdict stands. The test suite checks
 * that the hand check never accepts what the schema rejects and answers what the schema answers.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

/** A llama.cpp `/completion` stream event (fields the adapter reads; others are ignored). */
export const LlamaChunk = Schema.Struct({
  content: Schema.optional(Schema.String),
  stop: Schema.optional(Schema.Boolean),
  tokens_predicted: Schema.optional(Schema.Number),
  tokens_evaluated: Schema.optional(Schema.Number),
  stop_type: Schema.optional(Schema.String),
  timings: Schema.optional(Schema.Struct({ predicted_ms: Schema.optional(Schema.Number) }))
})

const Text = Schema.optional(Schema.NullOr(Schema.String))

/**
 * An OpenAI-compatible completion or chat completion stream chunk: the fields the adapter reads or
 * relays (tool-call deltas, refusals, reasoning text, log probabilities, finish reasons).
 */
export const OpenAIChunk = Schema.Struct({
  choices: Schema.Array(Schema.Struct({
    index: Schema.optional(Schema.Number),
    text: Text,
    delta: Schema.optional(Schema.Struct({
      content: Text,
      reasoning_content: Text,
      refusal: Text,
      tool_calls: Schema.optional(Schema.Unknown)
    })),
    logprobs: Schema.optional(Schema.Unknown),
    finish_reason: Text
  })),
  system_fingerprint: Text,
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
  const { content, stop, stop_type, timings, tokens_evaluated, tokens_predicted } = u
  if (
    !optional(content, "string") || !optional(stop, "boolean") || !optional(tokens_predicted, "number") ||
    !optional(tokens_evaluated, "number") || !optional(stop_type, "string")
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
  if (typeof stop_type === "string") out.stop_type = stop_type
  if (timings !== undefined) out.timings = typeof predicted === "number" ? { predicted_ms: predicted } : {}
  return out
}

type Choice = OpenAI["choices"][number]
type Delta = NonNullable<Choice["delta"]>

/** The hand check of one delta: the decoded delta, or `undefined` to ask the schema. */
const quickDelta = (delta: unknown): Delta | undefined => {
  if (!isRecord(delta)) return undefined
  const { content, reasoning_content, refusal } = delta
  if (!optionalText(content) || !optionalText(reasoning_content) || !optionalText(refusal)) return undefined
  const out: { -readonly [K in keyof Delta]: Delta[K] } = {}
  if (content !== undefined) out.content = content
  if (reasoning_content !== undefined) out.reasoning_content = reasoning_content
  if (refusal !== undefined) out.refusal = refusal
  if ("tool_calls" in delta) out.tool_calls = delta.tool_calls
  return out
}

/** The hand check of one choice. */
const quickChoice = (choice: unknown): Choice | undefined => {
  if (!isRecord(choice)) return undefined
  const { delta, finish_reason, index, text } = choice
  if (!optionalText(text) || !optionalText(finish_reason) || !optional(index, "number")) return undefined
  const out: { -readonly [K in keyof Choice]: Choice[K] } = {}
  if (typeof index === "number") out.index = index
  if (text !== undefined) out.text = text
  if (delta !== undefined) {
    const decoded = quickDelta(delta)
    if (decoded === undefined) return undefined
    out.delta = decoded
  }
  if ("logprobs" in choice) out.logprobs = choice.logprobs
  if (finish_reason !== undefined) out.finish_reason = finish_reason
  return out
}

/** The hand check of an OpenAI chunk: the decoded chunk, or `undefined` to ask the schema. */
export const quickOpenAI = (u: unknown): OpenAI | undefined => {
  if (!isRecord(u) || !Array.isArray(u.choices)) return undefined
  const choices: Array<Choice> = []
  for (const choice of u.choices) {
    const decoded = quickChoice(choice)
    if (decoded === undefined) return undefined
    choices.push(decoded)
  }
  const { system_fingerprint, usage } = u
  if (!optionalText(system_fingerprint)) return undefined
  const fingerprint = system_fingerprint === undefined ? {} : { system_fingerprint }
  if (usage === undefined || usage === null) {
    return { choices, ...fingerprint, ...(usage === null ? { usage: null } : {}) }
  }
  if (!isRecord(usage)) return undefined
  const { completion_tokens, prompt_tokens } = usage
  if (!optional(prompt_tokens, "number") || !optional(completion_tokens, "number")) return undefined
  return {
    choices,
    ...fingerprint,
    usage: {
      ...(typeof prompt_tokens === "number" ? { prompt_tokens } : {}),
      ...(typeof completion_tokens === "number" ? { completion_tokens } : {})
    }
  }
}

/**
 * What a choice carries beyond its text, to relay as it came: `delta` fields other than `content`
 * and `role`, `logprobs`, and (for choices other than 0, whose reason ends the task) `finish_reason`.
 * `undefined` in the usual case of plain text.
 */
export const choiceExtras = (choice: Choice): Record<string, unknown> | undefined => {
  let extras: Record<string, unknown> | undefined
  const delta = choice.delta
  if (delta !== undefined) {
    let rest: Record<string, unknown> | undefined
    if (delta.tool_calls !== undefined && delta.tool_calls !== null) (rest ??= {}).tool_calls = delta.tool_calls
    if (typeof delta.refusal === "string") (rest ??= {}).refusal = delta.refusal
    if (typeof delta.reasoning_content === "string") (rest ??= {}).reasoning_content = delta.reasoning_content
    if (rest !== undefined) (extras ??= {}).delta = rest
  }
  if (choice.logprobs !== undefined && choice.logprobs !== null) (extras ??= {}).logprobs = choice.logprobs
  if ((choice.index ?? 0) !== 0 && typeof choice.finish_reason === "string") {
    ;(extras ??= {}).finish_reason = choice.finish_reason
  }
  return extras
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
