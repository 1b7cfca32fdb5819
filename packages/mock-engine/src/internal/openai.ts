/**
 * OpenAI-compatible routes: `/v1/models`, `/v1/completions`, `/v1/chat/completions`.
 *
 * @internal
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { collect, defaultSeed, type DoneEvent, generate } from "./generation.js"
import { decodeBody, openAiError, type Rejection, sse, StringOrStrings, toList } from "./http.js"
import { EngineState } from "./state.js"

/** Fields shared by both OpenAI generation requests; unknown fields are ignored. */
const commonFields = {
  model: Schema.optional(Schema.String),
  max_tokens: Schema.optional(Schema.NullOr(Schema.Int)),
  stream: Schema.optional(Schema.NullOr(Schema.Boolean)),
  seed: Schema.optional(Schema.NullOr(Schema.Int)),
  stop: Schema.optional(Schema.NullOr(StringOrStrings)),
  temperature: Schema.optional(Schema.NullOr(Schema.Number)),
  top_p: Schema.optional(Schema.NullOr(Schema.Number)),
  stream_options: Schema.optional(Schema.NullOr(Schema.Struct({
    include_usage: Schema.optional(Schema.NullOr(Schema.Boolean))
  })))
}

const CompletionsBody = Schema.Struct({ ...commonFields, prompt: StringOrStrings })

const ContentPart = Schema.Struct({ type: Schema.String, text: Schema.optional(Schema.String) })

const ChatBody = Schema.Struct({
  ...commonFields,
  max_completion_tokens: Schema.optional(Schema.NullOr(Schema.Int)),
  messages: Schema.NonEmptyArray(Schema.Struct({
    role: Schema.String,
    content: Schema.optional(Schema.NullOr(Schema.Union(Schema.String, Schema.Array(ContentPart))))
  }))
})

type Common = Schema.Struct.Type<typeof commonFields>

/** OpenAI's default `max_tokens` for this engine. */
const defaultMaxTokens = 16

/** Renders chat messages the way the engine's chat template does. */
const renderChat = (messages: Schema.Schema.Type<typeof ChatBody>["messages"]): string =>
  messages.map((message) => {
    const content = message.content ?? ""
    const text = typeof content === "string" ? content : content.map((part) => part.text ?? "").join("")
    return `<|${message.role}|>\n${text}\n`
  }).join("") + "<|assistant|>\n"

const finishReason = (done: DoneEvent): "length" | "stop" => done.stopType === "limit" ? "length" : "stop"

const usage = (done: DoneEvent) => ({
  prompt_tokens: done.tokensEvaluated,
  completion_tokens: done.tokensPredicted,
  total_tokens: done.tokensEvaluated + done.tokensPredicted
})

/** How one OpenAI endpoint shapes its chunks and its final object. */
interface Shape {
  readonly prefix: string
  readonly object: string
  readonly chunkObject: string
  readonly first: ReadonlyArray<unknown>
  readonly piece: (text: string) => unknown
  readonly finish: (reason: "length" | "stop") => unknown
  readonly whole: (content: string, reason: "length" | "stop") => unknown
}

const chatShape: Shape = {
  prefix: "chatcmpl",
  object: "chat.completion",
  chunkObject: "chat.completion.chunk",
  first: [{ index: 0, delta: { role: "assistant", content: null }, logprobs: null, finish_reason: null }],
  piece: (text) => ({ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }),
  finish: (reason) => ({ index: 0, delta: {}, logprobs: null, finish_reason: reason }),
  whole: (content, reason) => ({
    index: 0,
    message: { role: "assistant", content },
    logprobs: null,
    finish_reason: reason
  })
}

const textShape: Shape = {
  prefix: "cmpl",
  object: "text_completion",
  chunkObject: "text_completion",
  first: [],
  piece: (text) => ({ index: 0, text, logprobs: null, finish_reason: null }),
  finish: (reason) => ({ index: 0, text: "", logprobs: null, finish_reason: reason }),
  whole: (content, reason) => ({ index: 0, text: content, logprobs: null, finish_reason: reason })
}

/** Runs one OpenAI request: validated, generated, then streamed as chunks or answered whole. */
const respond = (
  shape: Shape,
  request: Common,
  prompt: string,
  maxTokens: number | null | undefined
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, EngineState | Scope.Scope> =>
  Effect.gen(function*() {
    const state = yield* EngineState
    const events = generate(state, {
      prompt,
      seed: request.seed === undefined || request.seed === null || request.seed < 0 ? defaultSeed : request.seed,
      maxTokens: maxTokens ?? defaultMaxTokens,
      stop: toList(request.stop)
    })
    if (Either.isLeft(events)) return openAiError(events.left)
    const id = `${shape.prefix}-mock-${yield* state.nextId}`
    const created = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const envelope = (object: string, choices: ReadonlyArray<unknown>) => ({
      id,
      object,
      created,
      model: state.config.model,
      system_fingerprint: "b0-mock-engine",
      choices
    })
    if (request.stream === true) {
      const includeUsage = request.stream_options?.include_usage === true
      const generation = events.right
      return yield* sse((send) =>
        Effect.gen(function*() {
          if (shape.first.length > 0) send(envelope(shape.chunkObject, shape.first))
          const done = yield* generation((event) => send(envelope(shape.chunkObject, [shape.piece(event.piece)])))
          send(envelope(shape.chunkObject, [shape.finish(finishReason(done))]))
          if (includeUsage) send({ ...envelope(shape.chunkObject, []), usage: usage(done) })
        }), "[DONE]")
    }
    const done = yield* collect(events.right)
    return HttpServerResponse.unsafeJson({
      ...envelope(shape.object, [shape.whole(done.content, finishReason(done))]),
      usage: usage(done)
    })
  })

const withBody = <A, I>(
  schema: Schema.Schema<A, I>,
  handle: (body: A) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, EngineState | Scope.Scope>
) =>
  Effect.flatMap(
    decodeBody(schema),
    Either.match({ onLeft: (rejection: Rejection) => Effect.succeed(openAiError(rejection)), onRight: handle })
  )

const completions = withBody(
  CompletionsBody,
  (body) => respond(textShape, body, toList(body.prompt).join(""), body.max_tokens)
)

const chatCompletions = withBody(
  ChatBody,
  (body) => respond(chatShape, body, renderChat(body.messages), body.max_completion_tokens ?? body.max_tokens)
)

const models = Effect.map(EngineState, (state) =>
  HttpServerResponse.unsafeJson({
    object: "list",
    data: [{
      id: state.config.model,
      object: "model",
      created: 0,
      owned_by: "llamacpp",
      meta: { n_ctx_train: state.config.ctx }
    }]
  }))

/** The OpenAI-compatible routes (also reachable without the `/v1` prefix, like llama-server). */
export const openAiRoutes = HttpRouter.empty.pipe(
  HttpRouter.get("/v1/models", models),
  HttpRouter.get("/models", models),
  HttpRouter.post("/v1/completions", completions),
  HttpRouter.post("/v1/chat/completions", chatCompletions),
  HttpRouter.post("/chat/completions", chatCompletions)
)
