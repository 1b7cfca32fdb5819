/**
 * The OpenAI-compatible wire shapes of `/v1/chat/completions`, `/v1/completions`, `/v1/models` and
 * `/v1/embeddings`. The generation parameters orchestratord does not act on itself (`tools`,
 * `tool_choice`, `response_format`, `n`, `logprobs`, penalties, ...) are checked here and passed to
 * the engine as they are. Fields no engine knows are ignored, as OpenAI clients send many optional
 * ones.
 *
 * @since 0.1.0
 */
import { ModelState } from "@llama-orch/pool-core"
import * as Schema from "effect/Schema"

const TextPart = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })

/**
 * One chat message as OpenAI clients send it (string content or text parts).
 *
 * @since 0.1.0
 */
export const OpenAiMessage = Schema.Struct({
  role: Schema.Literal("system", "user", "assistant", "tool", "developer"),
  content: Schema.optional(Schema.NullOr(Schema.Union(Schema.String, Schema.Array(TextPart)))),
  name: Schema.optional(Schema.String),
  tool_calls: Schema.optional(Schema.Array(Schema.Struct({
    id: Schema.String,
    type: Schema.Literal("function"),
    function: Schema.Struct({ name: Schema.String, arguments: Schema.String })
  }))),
  tool_call_id: Schema.optional(Schema.String)
})

const FunctionName = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/, {
  message: () => "a function name is 1-64 letters, digits, '_' or '-'"
}))

/**
 * One tool a chat request offers (a function with a JSON Schema for its arguments).
 *
 * @since 0.1.0
 */
export const Tool = Schema.Struct({
  type: Schema.Literal("function"),
  function: Schema.Struct({
    name: FunctionName,
    description: Schema.optional(Schema.String),
    parameters: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
    strict: Schema.optional(Schema.NullOr(Schema.Boolean))
  })
})

const ToolChoice = Schema.Union(
  Schema.Literal("none", "auto", "required"),
  Schema.Struct({ type: Schema.Literal("function"), function: Schema.Struct({ name: FunctionName }) })
)

const ResponseFormat = Schema.Union(
  Schema.Struct({ type: Schema.Literal("text") }),
  Schema.Struct({ type: Schema.Literal("json_object") }),
  Schema.Struct({
    type: Schema.Literal("json_schema"),
    json_schema: Schema.Struct({
      name: Schema.String,
      description: Schema.optional(Schema.String),
      schema: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
      strict: Schema.optional(Schema.NullOr(Schema.Boolean))
    })
  })
)

const Penalty = Schema.optional(Schema.NullOr(Schema.Number.pipe(Schema.between(-2, 2))))

/**
 * The parameters passed to the engine as they are, by request kind (`null` and absent are not sent).
 *
 * @since 0.1.0
 */
export const passThroughKeys = {
  chat: [
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "n",
    "logprobs",
    "top_logprobs",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias"
  ],
  text: ["response_format", "n", "logprobs", "presence_penalty", "frequency_penalty", "logit_bias", "echo", "suffix"]
} as const

const Stop = Schema.Union(Schema.String, Schema.Array(Schema.String))

const sampling = {
  model: Schema.String,
  max_tokens: Schema.optional(Schema.NullOr(Schema.Int)),
  temperature: Schema.optional(Schema.NullOr(Schema.Number)),
  top_p: Schema.optional(Schema.NullOr(Schema.Number)),
  seed: Schema.optional(Schema.NullOr(Schema.Int)),
  stop: Schema.optional(Schema.NullOr(Stop)),
  stream: Schema.optional(Schema.NullOr(Schema.Boolean)),
  stream_options: Schema.optional(Schema.NullOr(Schema.Struct({
    include_usage: Schema.optional(Schema.NullOr(Schema.Boolean))
  }))),
  user: Schema.optional(Schema.String),
  n: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.between(1, 128)))),
  response_format: Schema.optional(Schema.NullOr(ResponseFormat)),
  presence_penalty: Penalty,
  frequency_penalty: Penalty,
  logit_bias: Schema.optional(Schema.NullOr(Schema.Record({
    key: Schema.String,
    value: Schema.Number.pipe(Schema.between(-100, 100))
  })))
}

/**
 * The body of `POST /v1/chat/completions`.
 *
 * @since 0.1.0
 */
export const ChatCompletionRequest = Schema.Struct({
  ...sampling,
  messages: Schema.Array(OpenAiMessage).pipe(Schema.minItems(1)),
  max_completion_tokens: Schema.optional(Schema.NullOr(Schema.Int)),
  tools: Schema.optional(Schema.NullOr(Schema.Array(Tool).pipe(Schema.maxItems(128)))),
  tool_choice: Schema.optional(Schema.NullOr(ToolChoice)),
  parallel_tool_calls: Schema.optional(Schema.NullOr(Schema.Boolean)),
  logprobs: Schema.optional(Schema.NullOr(Schema.Boolean)),
  top_logprobs: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.between(0, 20))))
}).annotations({ identifier: "ChatCompletionRequest" })

/**
 * A value of the `ChatCompletionRequest` schema.
 *
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
  prompt: Schema.Union(Schema.String, Schema.Array(Schema.String).pipe(Schema.itemsCount(1))),
  logprobs: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.between(0, 5)))),
  echo: Schema.optional(Schema.NullOr(Schema.Boolean)),
  suffix: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "CompletionRequest" })

/**
 * A value of the `CompletionRequest` schema.
 *
 * @since 0.1.0
 */
export type CompletionRequest = typeof CompletionRequest.Type

/**
 * Token counts of an answer: the engine's own when it reported them.
 *
 * @since 0.1.0
 */
export const Usage = Schema.Struct({
  prompt_tokens: Schema.Int,
  completion_tokens: Schema.Int,
  total_tokens: Schema.Int
}).annotations({ identifier: "Usage" })

const ToolCall = Schema.Struct({
  id: Schema.String,
  type: Schema.Literal("function"),
  function: Schema.Struct({ name: Schema.String, arguments: Schema.String })
})

/**
 * One choice of a non-streaming chat completion.
 *
 * @since 0.1.0
 */
export const ChatChoice = Schema.Struct({
  index: Schema.Int,
  message: Schema.Struct({
    role: Schema.Literal("assistant"),
    content: Schema.NullOr(Schema.String),
    tool_calls: Schema.optional(Schema.Array(ToolCall)),
    refusal: Schema.optional(Schema.NullOr(Schema.String)),
    reasoning_content: Schema.optional(Schema.String)
  }),
  logprobs: Schema.optional(Schema.NullOr(Schema.Unknown)),
  finish_reason: Schema.String
})

/**
 * One choice of a non-streaming text completion.
 *
 * @since 0.1.0
 */
export const TextChoice = Schema.Struct({
  index: Schema.Int,
  text: Schema.String,
  logprobs: Schema.optional(Schema.NullOr(Schema.Unknown)),
  finish_reason: Schema.String
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
  system_fingerprint: Schema.optional(Schema.String),
  choices: Schema.Array(ChatChoice),
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
  system_fingerprint: Schema.optional(Schema.String),
  choices: Schema.Array(TextChoice),
  usage: Usage
}).annotations({ identifier: "Completion" })

const streamedFields = {
  id: Schema.String,
  created: Schema.Int,
  model: Schema.String,
  system_fingerprint: Schema.optional(Schema.String),
  /** Only on the last chunk, with `choices: []`, when `stream_options.include_usage` asks for it. */
  usage: Schema.optional(Usage)
}

const ToolCallDelta = Schema.Struct({
  index: Schema.Int,
  id: Schema.optional(Schema.String),
  type: Schema.optional(Schema.Literal("function")),
  function: Schema.optional(Schema.Struct({
    name: Schema.optional(Schema.String),
    arguments: Schema.optional(Schema.String)
  }))
})

/**
 * One chunk of a streamed chat completion (`data:` of each event, before `data: [DONE]`). Fields an
 * engine adds to a `delta` are relayed as they are.
 *
 * @since 0.1.0
 */
export const ChatCompletionChunk = Schema.Struct({
  ...streamedFields,
  object: Schema.Literal("chat.completion.chunk"),
  choices: Schema.Array(Schema.Struct({
    index: Schema.Int,
    delta: Schema.Struct(
      {
        role: Schema.optional(Schema.Literal("assistant")),
        content: Schema.optional(Schema.NullOr(Schema.String)),
        tool_calls: Schema.optional(Schema.Array(ToolCallDelta)),
        refusal: Schema.optional(Schema.NullOr(Schema.String)),
        reasoning_content: Schema.optional(Schema.String)
      },
      Schema.Record({ key: Schema.String, value: Schema.Unknown })
    ),
    logprobs: Schema.optional(Schema.NullOr(Schema.Unknown)),
    finish_reason: Schema.NullOr(Schema.String)
  }))
}).annotations({ identifier: "ChatCompletionChunk" })

/**
 * One chunk of a streamed text completion (`data:` of each event, before `data: [DONE]`).
 *
 * @since 0.1.0
 */
export const CompletionChunk = Schema.Struct({
  ...streamedFields,
  object: Schema.Literal("text_completion"),
  choices: Schema.Array(Schema.Struct({
    index: Schema.Int,
    text: Schema.String,
    logprobs: Schema.optional(Schema.NullOr(Schema.Unknown)),
    finish_reason: Schema.NullOr(Schema.String)
  }))
}).annotations({ identifier: "CompletionChunk" })

/**
 * One model, as `GET /v1/models` lists it and `GET /v1/models/{id}` answers it.
 *
 * @since 0.1.0
 */
export const Model = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("model"),
  created: Schema.Int,
  owned_by: Schema.String,
  /** llama-orch's own: whether the model is loaded now (else a request for it loads it first). */
  state: Schema.optional(ModelState),
  aliases: Schema.optional(Schema.Array(Schema.String))
}).annotations({ identifier: "Model" })

/**
 * The answer of `GET /v1/models`.
 *
 * @since 0.1.0
 */
export const ModelList = Schema.Struct({
  object: Schema.Literal("list"),
  data: Schema.Array(Model)
}).annotations({ identifier: "ModelList" })

/**
 * The body of `POST /v1/embeddings`: checked, then sent to an engine serving the model as it is.
 *
 * @since 0.1.0
 */
export const EmbeddingsRequest = Schema.Struct({
  model: Schema.String,
  input: Schema.Union(
    Schema.String,
    Schema.Array(Schema.String).pipe(Schema.minItems(1), Schema.maxItems(2048)),
    Schema.Array(Schema.Int).pipe(Schema.minItems(1)),
    Schema.Array(Schema.Array(Schema.Int).pipe(Schema.minItems(1))).pipe(Schema.minItems(1), Schema.maxItems(2048))
  ),
  encoding_format: Schema.optional(Schema.Literal("float", "base64")),
  dimensions: Schema.optional(Schema.Int.pipe(Schema.positive())),
  user: Schema.optional(Schema.String)
}).annotations({ identifier: "EmbeddingsRequest" })

/**
 * The answer of `POST /v1/embeddings`, as the engine gave it.
 *
 * @since 0.1.0
 */
export const EmbeddingsResponse = Schema.Struct({
  object: Schema.Literal("list"),
  data: Schema.Array(Schema.Struct({
    object: Schema.Literal("embedding"),
    index: Schema.Int,
    embedding: Schema.Union(Schema.Array(Schema.Number), Schema.String)
  })),
  model: Schema.String,
  usage: Schema.Struct({ prompt_tokens: Schema.Int, total_tokens: Schema.Int })
}).annotations({ identifier: "EmbeddingsResponse" })

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

/**
 * The `finish_reason` of the last chunk of a `/v1` stream cut because orchestratord is shutting
 * down, sent before `data: [DONE]` (OpenAI's own values are `stop`, `length` and the like; clients
 * pass others through).
 *
 * @since 0.1.0
 */
export const shutdownFinishReason = "shutdown"
