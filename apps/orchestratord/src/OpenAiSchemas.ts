/**
 * The OpenAI-compatible wire shapes: the subset of `/v1/chat/completions`, `/v1/completions` and
 * `/v1/models` that orchestratord serves. Unknown request fields are ignored, as OpenAI clients send
 * many optional ones.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

const TextPart = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })

/**
 * One chat message as OpenAI clients send it (string content or text parts).
 *
 * @since 0.1.0
 */
export const OpenAiMessage = Schema.Struct({
  role: Schema.Literal("system", "user", "assistant", "tool", "developer"),
  content: Schema.Union(Schema.String, Schema.Array(TextPart))
})

const Stop = Schema.Union(Schema.String, Schema.Array(Schema.String))

const sampling = {
  model: Schema.String,
  max_tokens: Schema.optional(Schema.NullOr(Schema.Int)),
  temperature: Schema.optional(Schema.NullOr(Schema.Number)),
  top_p: Schema.optional(Schema.NullOr(Schema.Number)),
  seed: Schema.optional(Schema.NullOr(Schema.Int)),
  stop: Schema.optional(Schema.NullOr(Stop)),
  stream: Schema.optional(Schema.NullOr(Schema.Boolean)),
  user: Schema.optional(Schema.String)
}

/**
 * The body of `POST /v1/chat/completions`.
 *
 * @since 0.1.0
 */
export const ChatCompletionRequest = Schema.Struct({
  ...sampling,
  messages: Schema.Array(OpenAiMessage).pipe(Schema.minItems(1)),
  max_completion_tokens: Schema.optional(Schema.NullOr(Schema.Int))
}).annotations({ identifier: "ChatCompletionRequest" })

/**
 * @since 0.1.0
 */
export type ChatCompletionRequest = typeof ChatCompletionRequest.Type

/**
 * The body of `POST /v1/completions`.
 *
 * @since 0.1.0
 */
export const CompletionRequest = Schema.Struct({
  ...sampling,
  prompt: Schema.Union(Schema.String, Schema.Array(Schema.String).pipe(Schema.itemsCount(1)))
}).annotations({ identifier: "CompletionRequest" })

/**
 * @since 0.1.0
 */
export type CompletionRequest = typeof CompletionRequest.Type

const Usage = Schema.Struct({
  prompt_tokens: Schema.Int,
  completion_tokens: Schema.Int,
  total_tokens: Schema.Int
})

/**
 * The answer of a non-streaming `POST /v1/chat/completions`.
 *
 * @since 0.1.0
 */
export const ChatCompletion = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("chat.completion"),
  created: Schema.Int,
  model: Schema.String,
  choices: Schema.Array(Schema.Struct({
    index: Schema.Int,
    message: Schema.Struct({ role: Schema.Literal("assistant"), content: Schema.String }),
    finish_reason: Schema.String
  })),
  usage: Usage
}).annotations({ identifier: "ChatCompletion" })

/**
 * The answer of a non-streaming `POST /v1/completions`.
 *
 * @since 0.1.0
 */
export const Completion = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("text_completion"),
  created: Schema.Int,
  model: Schema.String,
  choices: Schema.Array(Schema.Struct({
    index: Schema.Int,
    text: Schema.String,
    finish_reason: Schema.String
  })),
  usage: Usage
}).annotations({ identifier: "Completion" })

/**
 * The answer of `GET /v1/models`.
 *
 * @since 0.1.0
 */
export const ModelList = Schema.Struct({
  object: Schema.Literal("list"),
  data: Schema.Array(Schema.Struct({
    id: Schema.String,
    object: Schema.Literal("model"),
    created: Schema.Int,
    owned_by: Schema.String
  }))
}).annotations({ identifier: "ModelList" })

/**
 * The OpenAI error envelope.
 *
 * @since 0.1.0
 */
export const OpenAiError = Schema.Struct({
  error: Schema.Struct({
    message: Schema.String,
    type: Schema.String,
    code: Schema.NullOr(Schema.String),
    param: Schema.NullOr(Schema.String)
  })
}).annotations({ identifier: "OpenAiError" })
