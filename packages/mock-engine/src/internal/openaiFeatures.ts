/**
 * The OpenAI request features the mock honours beyond plain text, deterministically, so clients
 * and relays can be tested against them: tool calls (`tools`, `tool_choice`), JSON output
 * (`response_format`), several choices (`n`) and log probabilities (`logprobs`, `top_logprobs`).
 *
 * - A tool is called when `tool_choice` is `"required"` (the first tool) or names a function, or,
 *   with `"auto"` (the default), when the last user message mentions a tool by name. The call's
 *   arguments follow the tool's JSON Schema (`parameters`), filled with generated words.
 * - `response_format: json_object` answers `{"answer": "<generated text>"}`; `json_schema` answers
 *   an object following the given schema.
 * - Choice `k` of `n` is generated with seed `seed + k`.
 * - The log probability of a token is a fixed function of its text.
 *
 * @internal
 *
 * @internal
 */
import * as Schema from "effect/Schema"
import { reject, type Rejection } from "./http.js"

/** One tool the client offers. */
export const ToolDefinition = Schema.Struct({
  type: Schema.Literal("function"),
  function: Schema.Struct({
    name: Schema.String,
    description: Schema.optional(Schema.String),
    parameters: Schema.optional(Schema.Unknown),
    strict: Schema.optional(Schema.NullOr(Schema.Boolean))
  })
})

export type ToolDefinition = typeof ToolDefinition.Type

const ToolChoice = Schema.Union(
  Schema.Literal("none", "auto", "required"),
  Schema.Struct({ type: Schema.Literal("function"), function: Schema.Struct({ name: Schema.String }) })
)

const ResponseFormat = Schema.Union(
  Schema.Struct({ type: Schema.Literal("text") }),
  Schema.Struct({ type: Schema.Literal("json_object") }),
  Schema.Struct({
    type: Schema.Literal("json_schema"),
    json_schema: Schema.Struct({ name: Schema.String, schema: Schema.optional(Schema.Unknown) })
  })
)

/** The request fields of this module, shared by chat and text completions. */
export const featureFields = {
  n: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.between(1, 16)))),
  response_format: Schema.optional(Schema.NullOr(ResponseFormat)),
  top_logprobs: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.between(0, 20))))
}

/** Chat-only fields: tools and boolean `logprobs`. */
export const chatFeatureFields = {
  tools: Schema.optional(Schema.NullOr(Schema.Array(ToolDefinition))),
  tool_choice: Schema.optional(Schema.NullOr(ToolChoice)),
  logprobs: Schema.optional(Schema.NullOr(Schema.Boolean))
}

type ToolChoice = typeof ToolChoice.Type
type ResponseFormat = typeof ResponseFormat.Type

/** The tool to call, if any; a `tool_choice` naming a tool that is not offered is a 400. */
export const chooseTool = (
  tools: ReadonlyArray<ToolDefinition> | null | undefined,
  choice: ToolChoice | null | undefined,
  lastUserText: string
): { readonly tool: ToolDefinition | undefined } | Rejection => {
  if (tools === undefined || tools === null || tools.length === 0 || choice === "none") return { tool: undefined }
  if (choice === "required") return { tool: tools[0] }
  if (typeof choice === "object" && choice !== null) {
    const named = tools.find((t) => t.function.name === choice.function.name)
    return named === undefined
      ? reject(400, `tool_choice names '${choice.function.name}', which is not among the tools`)
      : { tool: named }
  }
  return { tool: tools.find((t) => lastUserText.includes(t.function.name)) }
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** A value following a JSON Schema (the common keywords), with strings taken from `words`. */
const sample = (schema: unknown, words: () => string, depth = 0): unknown => {
  if (!isRecord(schema) || depth > 8) return words()
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0]
  if ("const" in schema) return schema.const
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {}
      const properties = isRecord(schema.properties) ? schema.properties : {}
      for (const [key, value] of Object.entries(properties)) out[key] = sample(value, words, depth + 1)
      return out
    }
    case "array":
      return [sample(schema.items, words, depth + 1)]
    case "integer":
      return 7
    case "number":
      return 0.5
    case "boolean":
      return true
    case "null":
      return null
    default:
      return words()
  }
}

/** Cuts a text into pieces of about a token (six characters). */
const cut = (text: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (let i = 0; i < text.length; i += 6) out.push(text.slice(i, i + 6))
  return out
}

/** Generated words, two at a time, cycling through the planned pieces. */
const wordsFrom = (pieces: ReadonlyArray<string>): () => string => {
  const words = pieces.map((p) => p.trim()).filter((w) => w !== "")
  let next = 0
  return () => {
    if (words.length === 0) return "mock"
    const a = words[next++ % words.length]
    const b = words[next++ % words.length]
    return `${a} ${b}`
  }
}

/** The emitted pieces of a JSON value that follows `schema`. */
export const jsonPieces = (schema: unknown) => (pieces: ReadonlyArray<string>): ReadonlyArray<string> =>
  cut(JSON.stringify(sample(schema, wordsFrom(pieces))))

/** The render for a response format: JSON pieces, or `undefined` for plain text. */
export const formatRender = (
  format: ResponseFormat | null | undefined
): ((pieces: ReadonlyArray<string>) => ReadonlyArray<string>) | undefined => {
  if (format === undefined || format === null || format.type === "text") return undefined
  if (format.type === "json_object") {
    return (pieces) => cut(JSON.stringify({ answer: pieces.join("").trim() }))
  }
  return jsonPieces(format.json_schema.schema ?? { type: "object" })
}

/** The log probability the mock gives a token: a fixed function of its text, in (-2, 0]. */
export const logprobOf = (token: string): number => {
  let h = 0
  for (let i = 0; i < token.length; i++) h = (Math.imul(h, 31) + token.charCodeAt(i)) >>> 0
  return -(h % 2000) / 1000
}

const bytesOf = (token: string): ReadonlyArray<number> => Array.from(new TextEncoder().encode(token))

const alternatives = [" and", " the", " of", " a", " to"]

/** Chat's `logprobs.content` entry for one token, with `top` alternatives. */
export const chatLogprob = (token: string, top: number) => ({
  token,
  logprob: logprobOf(token),
  bytes: bytesOf(token),
  top_logprobs: [token, ...alternatives.filter((a) => a !== token)].slice(0, top).map((t, i) => ({
    token: t,
    logprob: i === 0 ? logprobOf(token) : logprobOf(token) - i,
    bytes: bytesOf(t)
  }))
})

/** Text completion's `logprobs` block for some tokens starting at `offset` in the output. */
export const textLogprobs = (tokens: ReadonlyArray<string>, offset: number, top: number) => {
  const offsets: Array<number> = []
  let at = offset
  for (const t of tokens) {
    offsets.push(at)
    at += t.length
  }
  return {
    tokens,
    token_logprobs: tokens.map(logprobOf),
    top_logprobs: tokens.map((t) =>
      Object.fromEntries(
        [t, ...alternatives.filter((a) => a !== t)].slice(0, Math.max(1, top)).map((
          alt,
          i
        ) => [alt, logprobOf(t) - i])
      )
    ),
    text_offset: offsets
  }
}
