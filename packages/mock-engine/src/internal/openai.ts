/**
 * OpenAI-compatible routes: `/v1/models`, `/v1/completions`, `/v1/chat/completions` (with tools,
 * JSON output, `n` and log probabilities: see `openaiFeatures.ts`), `/v1/embeddings`.
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
import { embeddings } from "./embeddings.js"
import { defaultSeed, type DoneEvent, generate, type Generation } from "./generation.js"
import { decodeBody, openAiError, type Rejection, sse, StringOrStrings, toList } from "./http.js"
import {
  chatFeatureFields,
  chatLogprob,
  chooseTool,
  featureFields,
  formatRender,
  jsonPieces,
  textLogprobs,
  type ToolDefinition
} from "./openaiFeatures.js"
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
  }))),
  ...featureFields
}

const CompletionsBody = Schema.Struct({
  ...commonFields,
  prompt: StringOrStrings,
  logprobs: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.between(0, 5))))
})

const ContentPart = Schema.Struct({ type: Schema.String, text: Schema.optional(Schema.String) })

const ChatBody = Schema.Struct({
  ...commonFields,
  ...chatFeatureFields,
  max_completion_tokens: Schema.optional(Schema.NullOr(Schema.Int)),
  messages: Schema.NonEmptyArray(Schema.Struct({
    role: Schema.String,
    content: Schema.optional(Schema.NullOr(Schema.Union(Schema.String, Schema.Array(ContentPart))))
  }))
})

type Common = Schema.Struct.Type<typeof commonFields>
type Message = Schema.Schema.Type<typeof ChatBody>["messages"][number]

/** OpenAI's default `max_tokens` for this engine. */
const defaultMaxTokens = 16

const messageText = (message: Message): string => {
  const content = message.content ?? ""
  return typeof content === "string" ? content : content.map((part) => part.text ?? "").join("")
}

/** Renders chat messages the way the engine's chat template does. */
const renderChat = (messages: ReadonlyArray<Message>): string =>
  messages.map((message) => `<|${message.role}|>\n${messageText(message)}\n`).join("") + "<|assistant|>\n"

const finishReason = (done: DoneEvent): "length" | "stop" => done.stopType === "limit" ? "length" : "stop"

/** What one request asks for beyond the prompt. */
interface Asked {
  readonly chat: boolean
  readonly tool: ToolDefinition | undefined
  readonly render: ((pieces: ReadonlyArray<string>) => ReadonlyArray<string>) | undefined
  /** Log probabilities wanted, with this many alternatives; `undefined`: none. */
  readonly logprobs: number | undefined
}

type Piece = { readonly text: string; readonly offset: number }

/** How one choice is shaped: its first deltas, each piece, its end, and the whole (non-streaming). */
const shapes = (asked: Asked, index: number, callId: string) => {
  const { tool } = asked
  const logprobs = (piece: Piece) =>
    asked.logprobs === undefined
      ? null
      : asked.chat
      ? { content: [chatLogprob(piece.text, asked.logprobs)] }
      : textLogprobs([piece.text], piece.offset, asked.logprobs)
  const finish = (done: DoneEvent) =>
    tool !== undefined ? "tool_calls" : asked.render !== undefined ? "stop" : finishReason(done)
  const message = (content: string) =>
    tool === undefined
      ? { role: "assistant", content }
      : {
        role: "assistant",
        content: null,
        tool_calls: [{ id: callId, type: "function", function: { name: tool.function.name, arguments: content } }]
      }
  if (!asked.chat) {
    return {
      first: [],
      piece: (piece: Piece) => ({ index, text: piece.text, logprobs: logprobs(piece), finish_reason: null }),
      end: (done: DoneEvent) => ({ index, text: "", logprobs: null, finish_reason: finish(done) }),
      whole: (pieces: ReadonlyArray<Piece>, done: DoneEvent) => ({
        index,
        text: done.content,
        logprobs: asked.logprobs === undefined
          ? null
          : textLogprobs(pieces.map((p) => p.text), 0, asked.logprobs),
        finish_reason: finish(done)
      })
    }
  }
  const role = { index, delta: { role: "assistant", content: null }, logprobs: null, finish_reason: null }
  return {
    first: tool === undefined ? [role] : [role, {
      index,
      delta: {
        tool_calls: [{ index: 0, id: callId, type: "function", function: { name: tool.function.name, arguments: "" } }]
      },
      logprobs: null,
      finish_reason: null
    }],
    piece: (piece: Piece) => ({
      index,
      delta: tool === undefined
        ? { content: piece.text }
        : { tool_calls: [{ index: 0, function: { arguments: piece.text } }] },
      logprobs: logprobs(piece),
      finish_reason: null
    }),
    end: (done: DoneEvent) => ({ index, delta: {}, logprobs: null, finish_reason: finish(done) }),
    whole: (pieces: ReadonlyArray<Piece>, done: DoneEvent) => ({
      index,
      message: message(done.content),
      logprobs: asked.logprobs === undefined
        ? null
        : { content: pieces.map((p) => chatLogprob(p.text, asked.logprobs ?? 0)) },
      finish_reason: finish(done)
    })
  }
}

/** Runs one OpenAI request: validated, generated (once per choice), then streamed as chunks or answered whole. */
const respond = (
  asked: Asked,
  request: Common,
  prompt: string,
  maxTokens: number | null | undefined
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, EngineState | Scope.Scope> =>
  Effect.gen(function*() {
    const state = yield* EngineState
    const seed = request.seed === undefined || request.seed === null || request.seed < 0 ? defaultSeed : request.seed
    const generations: Array<Generation> = []
    for (let k = 0; k < (request.n ?? 1); k++) {
      const events = generate(state, {
        prompt,
        seed: seed + k,
        maxTokens: maxTokens ?? defaultMaxTokens,
        stop: toList(request.stop),
        render: asked.tool === undefined
          ? asked.render
          : jsonPieces(asked.tool.function.parameters ?? { type: "object" })
      })
      if (Either.isLeft(events)) return openAiError(events.left)
      generations.push(events.right)
    }
    const serial = yield* state.nextId
    const id = `${asked.chat ? "chatcmpl" : "cmpl"}-mock-${serial}`
    const created = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const envelope = (object: string, choices: ReadonlyArray<unknown>) => ({
      id,
      object,
      created,
      model: state.config.model,
      system_fingerprint: "b0-mock-engine",
      choices
    })
    const chunkObject = asked.chat ? "chat.completion.chunk" : "text_completion"
    const usage = (dones: ReadonlyArray<DoneEvent>) => {
      const prompt_tokens = dones[0]?.tokensEvaluated ?? 0
      const completion_tokens = dones.reduce((sum, d) => sum + d.tokensPredicted, 0)
      return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens }
    }
    /** Runs choice `k`, handing each piece (with its offset in the output) to `onPiece`. */
    const run = (k: number, onPiece: (piece: Piece) => void) => {
      let offset = 0
      return (generations[k] ?? generations[0]!)((event) => {
        onPiece({ text: event.piece, offset })
        offset += event.piece.length
      })
    }
    const callId = (k: number) => `call_mock_${serial}_${k}`
    if (request.stream === true) {
      const includeUsage = request.stream_options?.include_usage === true
      return yield* sse((send) =>
        Effect.gen(function*() {
          const dones: Array<DoneEvent> = []
          for (let k = 0; k < generations.length; k++) {
            const shape = shapes(asked, k, callId(k))
            for (const first of shape.first) send(envelope(chunkObject, [first]))
            const done = yield* run(k, (piece) => send(envelope(chunkObject, [shape.piece(piece)])))
            send(envelope(chunkObject, [shape.end(done)]))
            dones.push(done)
          }
          if (includeUsage) send({ ...envelope(chunkObject, []), usage: usage(dones) })
        }), "[DONE]")
    }
    const choices: Array<unknown> = []
    const dones: Array<DoneEvent> = []
    for (let k = 0; k < generations.length; k++) {
      const pieces: Array<Piece> = []
      const done = yield* run(k, (piece) => pieces.push(piece))
      choices.push(shapes(asked, k, callId(k)).whole(pieces, done))
      dones.push(done)
    }
    return HttpServerResponse.unsafeJson({
      ...envelope(asked.chat ? "chat.completion" : "text_completion", choices),
      usage: usage(dones)
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
  (body) =>
    respond(
      {
        chat: false,
        tool: undefined,
        render: formatRender(body.response_format),
        logprobs: body.logprobs ?? undefined
      },
      body,
      toList(body.prompt).join(""),
      body.max_tokens
    )
)

const chatCompletions = withBody(ChatBody, (body) => {
  const lastUser = [...body.messages].reverse().find((m) => m.role === "user")
  const chosen = chooseTool(body.tools, body.tool_choice, lastUser === undefined ? "" : messageText(lastUser))
  if (!("tool" in chosen)) return Effect.succeed(openAiError(chosen))
  return respond(
    {
      chat: true,
      tool: chosen.tool,
      render: formatRender(body.response_format),
      logprobs: body.logprobs === true ? body.top_logprobs ?? 0 : undefined
    },
    body,
    renderChat(body.messages),
    body.max_completion_tokens ?? body.max_tokens
  )
})

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
  HttpRouter.post("/chat/completions", chatCompletions),
  HttpRouter.post("/v1/embeddings", embeddings),
  HttpRouter.post("/embeddings", embeddings)
)
