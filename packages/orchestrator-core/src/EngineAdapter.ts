/**
 * Engine adapters: send a task to a leased engine and stream what it generates, by protocol.
 *
 * - `openai`: `POST {url}/v1/completions` (prompt) or `{url}/v1/chat/completions` (messages) with
 *   `stream: true` and `stream_options.include_usage` (so the engine's own token counts are
 *   reported), ending with `data: [DONE]`. `engine_params` are sent as they are, and what comes
 *   back beyond text (tool-call deltas, log probabilities, several choices) is relayed.
 * - `llamacpp`: prompts go to llama-server's native `POST {url}/completion` (`n_predict`, `seed`,
 *   `temperature`, `top_p`, `stop`); chat, and any task with `engine_params`, go to its
 *   OpenAI-compatible endpoints as above, so the model's own chat template (from the GGUF) renders
 *   the messages.
 *
 * A non-2xx answer, a malformed event, a broken connection or a stream that ends before the final
 * event all fail with `EngineFailure`. Interrupting the consumer aborts the HTTP request. After the
 * final event the body is read to its end (one second at most), so the engine's keep-alive
 * connection serves the next request.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type { EngineProtocol } from "@llama-orch/pool-core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as EngineTransport from "./EngineTransport.js"
import { EngineFailure, type EngineTransportService, type Verdict } from "./EngineTransport.js"
import { choiceExtras, decodeLlama, decodeOpenAI } from "./internal/engineChunks.js"
import { SseDecoder } from "./internal/sse.js"
import type { ChatMessage, TaskRequest } from "./TaskRequest.js"

/**
 * The engine failed: refused the request, broke the connection or sent something unreadable.
 *
 * @since 0.1.0
 */
export { EngineFailure }

/**
 * What an engine stream yields: generated text pieces, then one `Done` with the engine's counters
 * when it reports them.
 *
 * @category models
 * @since 0.1.0
 */
export type EngineOutput =
  | {
    readonly _tag: "Text"
    readonly text: string
    /** The choice this piece belongs to, when not 0. */
    readonly choice?: number | undefined
    /** What the piece carries beyond text (see `Token.x`). */
    readonly extra?: Record<string, unknown> | undefined
  }
  | {
    readonly _tag: "Done"
    readonly tokensIn?: number | undefined
    readonly tokensOut?: number | undefined
    readonly decodeMs?: number | undefined
    /** The engine's reason to stop choice 0 (`stop`, `length`, `tool_calls`, ...). */
    readonly finishReason?: string | undefined
    readonly systemFingerprint?: string | undefined
  }

/**
 * Where to send the task: the lease's engine URL, protocol and, when the engine was started with
 * one, its API key (sent as `Authorization: Bearer`).
 *
 * @category models
 * @since 0.1.0
 */
export interface EngineTarget {
  readonly url: string
  readonly protocol: EngineProtocol
  readonly model: string
  readonly apiKey?: Redacted.Redacted<string> | undefined
}

const trimSlash = (url: string): string => url.endsWith("/") ? url.slice(0, -1) : url

const sampling = (request: TaskRequest) => ({
  ...(request.seed === undefined ? {} : { seed: request.seed }),
  ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
  ...(request.topP === undefined ? {} : { top_p: request.topP }),
  ...(request.stop === undefined ? {} : { stop: request.stop })
})

/** A chat message as OpenAI endpoints take it. */
const wireMessage = (m: ChatMessage) => ({
  role: m.role,
  content: m.content,
  ...(m.toolCalls === undefined ? {} : { tool_calls: m.toolCalls }),
  ...(m.toolCallId === undefined ? {} : { tool_call_id: m.toolCallId }),
  ...(m.name === undefined ? {} : { name: m.name })
})

/**
 * The endpoint and JSON body a task is sent with, and which kind of stream answers
 * (`llamacpp`: llama-server's native events; `openai`: OpenAI chunks).
 *
 * @category utils
 * @since 0.1.0
 */
export const requestFor = (
  target: EngineTarget,
  request: TaskRequest
): { readonly url: string; readonly body: object; readonly stream: EngineProtocol } => {
  const base = trimSlash(target.url)
  if (target.protocol === "llamacpp" && request.messages === undefined && request.engineParams === undefined) {
    return {
      url: `${base}/completion`,
      body: { prompt: request.prompt ?? "", n_predict: request.maxTokens, stream: true, ...sampling(request) },
      stream: "llamacpp"
    }
  }
  const common = {
    ...request.engineParams,
    model: target.model,
    max_tokens: request.maxTokens,
    stream: true,
    stream_options: { include_usage: true },
    ...sampling(request)
  }
  return request.messages !== undefined
    ? {
      url: `${base}/v1/chat/completions`,
      body: { ...common, messages: request.messages.map(wireMessage) },
      stream: "openai"
    }
    : { url: `${base}/v1/completions`, body: { ...common, prompt: request.prompt ?? "" }, stream: "openai" }
}

/** OpenAI's name for llama-server's `stop_type`. */
const llamaFinish = (stopType: string | undefined): string | undefined =>
  stopType === "limit" ? "length" : stopType === "eos" || stopType === "word" ? "stop" : undefined

type Parsed = Either.Either<ReadonlyArray<EngineOutput>, string>

const parseLlama = (data: string): Parsed => {
  const c = decodeLlama(data)
  if (c === undefined) return Either.left("malformed llama.cpp event")
  const out: Array<EngineOutput> = []
  if (c.content !== undefined && c.content !== "") out.push({ _tag: "Text", text: c.content })
  if (c.stop === true) {
    out.push({
      _tag: "Done",
      tokensIn: c.tokens_evaluated,
      tokensOut: c.tokens_predicted,
      decodeMs: c.timings?.predicted_ms,
      finishReason: llamaFinish(c.stop_type)
    })
  }
  return Either.right(out)
}

const makeOpenAIParser = () => {
  const done: {
    -readonly [K in keyof Done]: Done[K]
  } = { _tag: "Done" }
  const none: ReadonlyArray<EngineOutput> = []
  return (data: string): Parsed => {
    if (data.trim() === "[DONE]") return Either.right([done])
    const c = decodeOpenAI(data)
    if (c === undefined) return Either.left("malformed OpenAI event")
    if (c.usage) {
      done.tokensIn = c.usage.prompt_tokens
      done.tokensOut = c.usage.completion_tokens
    }
    if (typeof c.system_fingerprint === "string") done.systemFingerprint = c.system_fingerprint
    let out: Array<EngineOutput> | undefined
    for (const choice of c.choices) {
      const index = choice.index ?? 0
      if (index === 0 && typeof choice.finish_reason === "string") done.finishReason = choice.finish_reason
      const extra = choiceExtras(choice)
      const text = choice.text ?? choice.delta?.content ?? ""
      if (text === "" && extra === undefined) continue
      out ??= []
      // the usual piece, text of choice 0, is a plain literal: no spreads per token
      out.push(
        index === 0 && extra === undefined ? { _tag: "Text", text } : {
          _tag: "Text",
          text,
          ...(index === 0 ? {} : { choice: index }),
          ...(extra === undefined ? {} : { extra })
        }
      )
    }
    return Either.right(out ?? none)
  }
}

/**
 * The engine's final output: its counters, when it reports them.
 *
 * @category models
 * @since 0.1.0
 */
export type Done = Extract<EngineOutput, { readonly _tag: "Done" }>

/**
 * `run` with the transport given rather than taken from context; aborting `signal` aborts the
 * request (and fails).
 *
 * @category utils
 * @since 0.1.0
 */
export const runWith = (
  transport: EngineTransportService,
  target: EngineTarget,
  request: TaskRequest,
  onText: (text: string, choice?: number, extra?: Record<string, unknown>) => void,
  signal?: AbortSignal
): Effect.Effect<Done, EngineFailure> =>
  Effect.suspend(() => {
    const { body, stream, url } = requestFor(target, request)
    const parse = stream === "llamacpp" ? parseLlama : makeOpenAIParser()
    const decoder = new SseDecoder()
    const events: Array<string> = []
    let done: Done | undefined
    let failure: EngineFailure | undefined
    /** Decodes `bytes` (`undefined`: the end of the body) and hands over what they complete. */
    const deliver = (bytes: Uint8Array | undefined): Verdict => {
      events.length = 0
      if (bytes === undefined) decoder.end(events)
      else decoder.push(bytes, events)
      for (const data of events) {
        const parsed = parse(data)
        if (Either.isLeft(parsed)) {
          failure = new EngineFailure({ url, reason: parsed.left, malformed: true })
          return "abort"
        }
        for (const o of parsed.right) {
          if (o._tag === "Done") {
            done = o
            return "done"
          }
          if (o.choice === undefined && o.extra === undefined) onText(o.text)
          else onText(o.text, o.choice, o.extra)
        }
      }
      return "more"
    }
    const authorization = target.apiKey === undefined ? undefined : `Bearer ${Redacted.value(target.apiKey)}`
    return Effect.flatMap(transport.post(url, JSON.stringify(body), deliver, signal, authorization), () => {
      if (failure === undefined && done === undefined) deliver(undefined)
      if (failure !== undefined) return Effect.fail(failure)
      return done === undefined
        ? Effect.fail(new EngineFailure({ url, reason: "stream ended before the final event" }))
        : Effect.succeed(done)
    })
  })

/**
 * The push form of `stream`, for the dispatch hot path: sends the task with the `EngineTransport`
 * in context (or over the `HttpClient` in context) and calls `onText` synchronously with each
 * generated piece as the bytes arrive, without a stream stage per token; answers the final `Done`.
 * Fails like `stream`; interrupting it aborts the request.
 *
 * @category utils
 * @since 0.1.0
 */
export const run = (
  target: EngineTarget,
  request: TaskRequest,
  onText: (text: string, choice?: number, extra?: Record<string, unknown>) => void
): Effect.Effect<Done, EngineFailure, HttpClient.HttpClient> =>
  Effect.flatMap(EngineTransport.current, (transport) => runWith(transport, target, request, onText))

/**
 * Streams a task's output from the engine: `run` as a stream of outputs, ending with `Done`.
 * Ending the stream early aborts the request.
 *
 * @category utils
 * @since 0.1.0
 */
export const stream = (
  target: EngineTarget,
  request: TaskRequest
): Stream.Stream<EngineOutput, EngineFailure, HttpClient.HttpClient> =>
  Stream.asyncPush<EngineOutput, EngineFailure, HttpClient.HttpClient>(
    (emit) =>
      run(
        target,
        request,
        (text, choice, extra) =>
          emit.single({
            _tag: "Text",
            text,
            ...(choice === undefined ? {} : { choice }),
            ...(extra === undefined ? {} : { extra })
          })
      ).pipe(
        Effect.match({
          onFailure: (error) => emit.fail(error),
          onSuccess: (done) => {
            emit.single(done)
            emit.end()
          }
        }),
        Effect.forkScoped
      ),
    { bufferSize: "unbounded" }
  )
