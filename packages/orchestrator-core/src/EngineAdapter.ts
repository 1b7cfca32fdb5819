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
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type { EngineProtocol } from "@llama-orch/pool-core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { promptText } from "./internal/prompt.js"
import { SseDecoder } from "./internal/sse.js"
import type { TaskRequest } from "./TaskRequest.js"

/**
 * The engine failed: refused the request, broke the connection or sent something unreadable.
 *
 * @since 0.1.0
 */
export class EngineFailure extends Schema.TaggedError<EngineFailure>()("EngineFailure", {
  url: Schema.String,
  reason: Schema.String,
  status: Schema.optional(Schema.Int)
}) {
  override get message(): string {
    return `engine at ${this.url} failed: ${this.reason}${this.status === undefined ? "" : ` (HTTP ${this.status})`}`
  }
}

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
 * Where to send the task: the lease's engine URL and protocol.
 *
 * @since 0.1.0
 */
export interface EngineTarget {
  readonly url: string
  readonly protocol: EngineProtocol
  readonly model: string
}

const LlamaChunk = Schema.parseJson(Schema.Struct({
  content: Schema.optional(Schema.String),
  stop: Schema.optional(Schema.Boolean),
  tokens_predicted: Schema.optional(Schema.Number),
  tokens_evaluated: Schema.optional(Schema.Number),
  timings: Schema.optional(Schema.Struct({ predicted_ms: Schema.optional(Schema.Number) }))
}))

const OpenAIChunk = Schema.parseJson(Schema.Struct({
  choices: Schema.Array(Schema.Struct({
    text: Schema.optional(Schema.NullOr(Schema.String)),
    delta: Schema.optional(Schema.Struct({ content: Schema.optional(Schema.NullOr(Schema.String)) }))
  })),
  usage: Schema.optional(Schema.NullOr(Schema.Struct({
    prompt_tokens: Schema.optional(Schema.Number),
    completion_tokens: Schema.optional(Schema.Number)
  })))
}))

const decodeLlama = Schema.decodeEither(LlamaChunk)
const decodeOpenAI = Schema.decodeEither(OpenAIChunk)

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

/** A transport error's message with what the socket reported (connect timeout, reset, closed, ...). */
const withCause = (message: string, cause: unknown): string => {
  if (!(cause instanceof Error)) return message
  const code = "code" in cause && typeof cause.code === "string" ? ` ${cause.code}` : ""
  return `${message}: ${cause.name}${code}: ${cause.message}`
}

type Parsed = Either.Either<ReadonlyArray<EngineOutput>, string>

const parseLlama = (data: string): Parsed => {
  const decoded = decodeLlama(data)
  if (Either.isLeft(decoded)) return Either.left("malformed llama.cpp event")
  const c = decoded.right
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
    const decoded = decodeOpenAI(data)
    if (Either.isLeft(decoded)) return Either.left("malformed OpenAI event")
    const c = decoded.right
    if (c.usage) usage = { tokensIn: c.usage.prompt_tokens, tokensOut: c.usage.completion_tokens }
    const choice = c.choices[0]
    const text = choice?.text ?? choice?.delta?.content ?? ""
    return Either.right(text === "" ? [] : [{ _tag: "Text", text }])
  }
}

/** How long the body may stay open after the final event before it is cut. */
const drainAfterDoneMs = 1_000

/** Sends the request; answers the response with a decoder of its body into outputs. */
const open = (target: EngineTarget, request: TaskRequest) => {
  const { body, url } = requestFor(target, request)
  const fail = (reason: string, status?: number) =>
    new EngineFailure({ url, reason, ...(status === undefined ? {} : { status }) })
  return Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(
      HttpClientRequest.post(url).pipe(
        HttpClientRequest.bodyUnsafeJson(body),
        HttpClientRequest.setHeader("accept", "text/event-stream")
      )
    ).pipe(
      // a pooled keep-alive connection the engine closed meanwhile fails before any answer (the
      // engine saw no request, nothing was streamed): the request goes once more on a fresh one
      Effect.retry({ times: 1, while: (e) => e._tag === "RequestError" && e.reason === "Transport" }),
      Effect.mapError((e) => fail(withCause(e.message, e.cause)))
    )
    if (response.status < 200 || response.status >= 300) {
      const text = yield* response.text.pipe(Effect.orElseSucceed(() => ""))
      return yield* fail(`engine answered ${text.slice(0, 200)}`, response.status)
    }
    const parse = target.protocol === "llamacpp" ? parseLlama : makeOpenAIParser()
    const decoder = new SseDecoder()
    const events: Array<string> = []
    /** The outputs of the events that `bytes` complete (`undefined`: the end of the body). */
    const decode = (bytes: Uint8Array | undefined): Either.Either<Array<EngineOutput>, EngineFailure> => {
      events.length = 0
      if (bytes === undefined) decoder.end(events)
      else decoder.push(bytes, events)
      const out: Array<EngineOutput> = []
      for (const data of events) {
        const parsed = parse(data)
        if (Either.isLeft(parsed)) return Either.left(fail(parsed.left))
        for (const o of parsed.right) out.push(o)
      }
      return Either.right(out)
    }
    const bytes = response.stream.pipe(
      Stream.mapError((e) => fail(withCause(`connection failed: ${e.message}`, e.cause)))
    )
    return { bytes, decode, fail }
  })
}

/**
 * The engine's final output: its counters, when it reports them.
 *
 * @since 0.2.0
 */
export type Done = Extract<EngineOutput, { readonly _tag: "Done" }>

/**
 * The push form of `stream`, for the dispatch hot path: sends the task and calls `onText`
 * synchronously with each generated piece as the bytes arrive, without a stream stage per token;
 * answers the final `Done`. Fails like `stream`; interrupting it aborts the request.
 *
 * @since 0.2.0
 */
export const run = (
  target: EngineTarget,
  request: TaskRequest,
  onText: (text: string) => void
): Effect.Effect<Done, EngineFailure, HttpClient.HttpClient> =>
  Effect.flatMap(open(target, request), ({ bytes, decode, fail }) => {
    let done: Done | undefined
    const deliver = (input: Uint8Array | undefined): EngineFailure | undefined => {
      const decoded = decode(input)
      if (Either.isLeft(decoded)) return decoded.left
      for (const o of decoded.right) {
        if (done !== undefined) break
        if (o._tag === "Done") done = o
        else onText(o.text)
      }
      return undefined
    }
    const finish = Effect.suspend(() => {
      const failure = done === undefined ? deliver(undefined) : undefined
      if (failure !== undefined) return Effect.fail(failure)
      return done === undefined ? Effect.fail(fail("stream ended before the final event")) : Effect.succeed(done)
    })
    return Effect.gen(function*() {
      const sawDone = yield* Deferred.make<void>()
      // the body is read to its end after `Done` (the engine ends it right away): a response cut
      // short would cost its keep-alive connection, and the next task a new one
      const readAll = bytes.pipe(
        Stream.runForEach((b) =>
          Effect.suspend(() => {
            if (done !== undefined) return Effect.void
            const failure = deliver(b)
            if (failure !== undefined) return Effect.fail(failure)
            if (done !== undefined) Deferred.unsafeDone(sawDone, Exit.void)
            return Effect.void
          })
        )
      )
      // ... but an engine that keeps it open after `Done` is not waited for long
      const drainLimit = Deferred.await(sawDone).pipe(Effect.zipRight(Effect.sleep(drainAfterDoneMs)))
      yield* Effect.raceFirst(readAll, drainLimit)
      return yield* finish
    })
  })

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
