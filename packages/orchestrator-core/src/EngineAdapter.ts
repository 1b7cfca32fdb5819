/**
 * Engine adapters: send a task to a leased engine and stream what it generates, by protocol.
 *
 * - `llamacpp`: `POST {url}/completion` with `stream: true` (`n_predict`, `seed`, `temperature`,
 *   `top_p`, `stop`); chat messages are rendered into a prompt with a simple role template.
 * - `openai`: `POST {url}/v1/completions` (prompt) or `{url}/v1/chat/completions` (messages) with
 *   `stream: true`, ending with `data: [DONE]`.
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
import { decodeLlama, decodeOpenAI } from "./internal/engineChunks.js"
import { promptText } from "./internal/prompt.js"
import { SseDecoder } from "./internal/sse.js"
import type { TaskRequest } from "./TaskRequest.js"

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
 * @since 0.1.0
 */
export type EngineOutput =
  | { readonly _tag: "Text"; readonly text: string }
  | {
    readonly _tag: "Done"
    readonly tokensIn?: number | undefined
    readonly tokensOut?: number | undefined
    readonly decodeMs?: number | undefined
  }

/**
 * Where to send the task: the lease's engine URL, protocol and, when the engine was started with
 * one, its API key (sent as `Authorization: Bearer`).
 *
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

/**
 * The endpoint and JSON body a task is sent with.
 *
 * @since 0.1.0
 */
export const requestFor = (
  target: EngineTarget,
  request: TaskRequest
): { readonly url: string; readonly body: object } => {
  const base = trimSlash(target.url)
  if (target.protocol === "llamacpp") {
    return {
      url: `${base}/completion`,
      body: { prompt: promptText(request), n_predict: request.maxTokens, stream: true, ...sampling(request) }
    }
  }
  const common = { model: target.model, max_tokens: request.maxTokens, stream: true, ...sampling(request) }
  return request.messages !== undefined
    ? { url: `${base}/v1/chat/completions`, body: { ...common, messages: request.messages } }
    : { url: `${base}/v1/completions`, body: { ...common, prompt: request.prompt ?? "" } }
}

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
      decodeMs: c.timings?.predicted_ms
    })
  }
  return Either.right(out)
}

const makeOpenAIParser = () => {
  let usage: { tokensIn?: number | undefined; tokensOut?: number | undefined } = {}
  return (data: string): Parsed => {
    if (data.trim() === "[DONE]") return Either.right([{ _tag: "Done", ...usage }])
    const c = decodeOpenAI(data)
    if (c === undefined) return Either.left("malformed OpenAI event")
    if (c.usage) usage = { tokensIn: c.usage.prompt_tokens, tokensOut: c.usage.completion_tokens }
    const choice = c.choices[0]
    const text = choice?.text ?? choice?.delta?.content ?? ""
    return Either.right(text === "" ? [] : [{ _tag: "Text", text }])
  }
}

/**
 * The engine's final output: its counters, when it reports them.
 *
 * @since 0.2.0
 */
export type Done = Extract<EngineOutput, { readonly _tag: "Done" }>

/**
 * `run` with the transport given rather than taken from context; aborting `signal` aborts the
 * request (and fails).
 *
 * @since 0.2.0
 */
export const runWith = (
  transport: EngineTransportService,
  target: EngineTarget,
  request: TaskRequest,
  onText: (text: string) => void,
  signal?: AbortSignal
): Effect.Effect<Done, EngineFailure> =>
  Effect.suspend(() => {
    const { body, url } = requestFor(target, request)
    const parse = target.protocol === "llamacpp" ? parseLlama : makeOpenAIParser()
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
          failure = new EngineFailure({ url, reason: parsed.left })
          return "abort"
        }
        for (const o of parsed.right) {
          if (o._tag === "Done") {
            done = o
            return "done"
          }
          onText(o.text)
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
 * @since 0.2.0
 */
export const run = (
  target: EngineTarget,
  request: TaskRequest,
  onText: (text: string) => void
): Effect.Effect<Done, EngineFailure, HttpClient.HttpClient> =>
  Effect.flatMap(EngineTransport.current, (transport) => runWith(transport, target, request, onText))

/**
 * Streams a task's output from the engine: `run` as a stream of outputs, ending with `Done`.
 * Ending the stream early aborts the request.
 *
 * @since 0.1.0
 */
export const stream = (
  target: EngineTarget,
  request: TaskRequest
): Stream.Stream<EngineOutput, EngineFailure, HttpClient.HttpClient> =>
  Stream.asyncPush<EngineOutput, EngineFailure, HttpClient.HttpClient>(
    (emit) =>
      run(target, request, (text) => emit.single({ _tag: "Text", text })).pipe(
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
