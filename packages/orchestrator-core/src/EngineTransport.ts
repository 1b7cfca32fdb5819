/**
 * How the engine adapter sends a task to an engine and reads what comes back: one POST with a JSON
 * body, answered by an event stream whose bytes are handed over as they arrive.
 *
 * Without an `EngineTransport` in context the adapter uses the `HttpClient` in context
 * (`fromHttpClient`), which works on any platform and with any client, scripted ones included.
 * `NodeEngineTransport.layer` sends with undici's dispatcher directly: about a millisecond less CPU
 * per task than the general client.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { identity } from "effect/Function"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

/**
 * The engine failed: refused the request, broke the connection or sent something unreadable.
 *
 * @category errors
 * @since 0.1.0
 */
export class EngineFailure extends Schema.TaggedError<EngineFailure>()("EngineFailure", {
  url: Schema.String,
  reason: Schema.String,
  status: Schema.optional(Schema.Int),
  /** The engine answered something unreadable: its fault, not the connection's or the process's. */
  malformed: Schema.optional(Schema.Boolean)
}) {
  override get message(): string {
    return `engine at ${this.url} failed: ${this.reason}${this.status === undefined ? "" : ` (HTTP ${this.status})`}`
  }
}

/**
 * What the reader of a body says after each chunk: `"more"` to go on, `"done"` when it has all it
 * needs (the rest of the body is read and dropped, so the keep-alive connection serves the next
 * request), `"abort"` to cut the request at once.
 *
 * @category models
 * @since 0.1.0
 */
export type Verdict = "more" | "done" | "abort"

/**
 * The transport's one operation.
 *
 * @category models
 * @since 0.1.0
 */
export interface EngineTransportService {
  /**
   * POSTs `body` (JSON text) to `url` asking for `text/event-stream`, and calls `onBytes`
   * synchronously with each chunk of a 2xx body until it answers `"done"` or `"abort"` or the body
   * ends. Succeeds then. After `"done"` the rest of the body is read and dropped for at most
   * `drainAfterDoneMs`, then the request is cut. A non-2xx answer fails with its status and the
   * start of its body, a broken connection with what the socket reported; interrupting it, or
   * aborting `signal`, aborts the request (an aborted request fails). `authorization` is sent as
   * the `Authorization` header (the engine's API key, from the lease).
   */
  readonly post: (
    url: string,
    body: string,
    onBytes: (bytes: Uint8Array) => Verdict,
    signal?: AbortSignal,
    authorization?: string
  ) => Effect.Effect<void, EngineFailure>
}

/**
 * The engine transport, when one is provided (see the module's description).
 *
 * @example
 * ```ts
 * import { EngineTransport } from "@llama-orch/orchestrator-core"
 * import { Effect, Layer } from "effect"
 *
 * // a transport that answers every task with one canned event stream, for a test without engines
 * const Canned = Layer.succeed(EngineTransport.EngineTransport, {
 *   post: (_url, _body, onBytes) =>
 *     Effect.sync(() => {
 *       onBytes(new TextEncoder().encode("data: {\"content\":\"hi\",\"stop\":true}\n\n"))
 *     })
 * })
 *
 * const program = Effect.flatMap(EngineTransport.EngineTransport, (transport) =>
 *   transport.post("http://127.0.0.1:1/completion", "{}", (bytes) => {
 *     console.log(new TextDecoder().decode(bytes))
 *     return "done"
 *   }))
 *
 * Effect.runPromise(program.pipe(Effect.provide(Canned)))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class EngineTransport extends Context.Tag("@llama-orch/orchestrator-core/EngineTransport")<
  EngineTransport,
  EngineTransportService
>() {}

/**
 * How long the body may stay open after the reader said `"done"` before the request is cut.
 *
 * @category constants
 * @since 0.1.0
 */
export const drainAfterDoneMs = 1_000

/**
 * A transport error's message with what the socket reported (connect timeout, reset, closed, ...).
 *
 * @category utils
 * @since 0.1.0
 */
export const withCause = (message: string, cause: unknown): string => {
  if (!(cause instanceof Error)) return message
  const code = "code" in cause && typeof cause.code === "string" ? ` ${cause.code}` : ""
  return `${message}: ${cause.name}${code}: ${cause.message}`
}

/** Ends the body stream early, without an error of its own. */
class Stop {
  readonly _tag = "Stop"
}

/**
 * The transport over an `HttpClient`. A pooled keep-alive connection that the engine closed
 * meanwhile fails before any answer (the engine saw no request): the request goes once more.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromHttpClient = (client: HttpClient.HttpClient): EngineTransportService => ({
  post: (url, body, onBytes, signal, authorization) => {
    const fail = (reason: string, status?: number) =>
      new EngineFailure({ url, reason, ...(status === undefined ? {} : { status }) })
    const exchange = Effect.gen(function*() {
      const response = yield* client.execute(
        HttpClientRequest.post(url).pipe(
          HttpClientRequest.bodyText(body, "application/json"),
          HttpClientRequest.setHeader("accept", "text/event-stream"),
          authorization === undefined ? identity : HttpClientRequest.setHeader("authorization", authorization)
        )
      ).pipe(
        Effect.retry({ times: 1, while: (e) => e._tag === "RequestError" && e.reason === "Transport" }),
        Effect.mapError((e) => fail(withCause(e.message, e.cause)))
      )
      if (response.status < 200 || response.status >= 300) {
        const text = yield* response.text.pipe(Effect.orElseSucceed(() => ""))
        return yield* fail(`engine answered ${text.slice(0, 200)}`, response.status)
      }
      const sawDone = yield* Deferred.make<void>()
      let verdict: Verdict = "more"
      const readAll = response.stream.pipe(
        Stream.mapError((e) => fail(withCause(`connection failed: ${e.message}`, e.cause))),
        Stream.runForEach((bytes) =>
          Effect.suspend(() => {
            if (verdict === "done") return Effect.void
            verdict = onBytes(bytes)
            if (verdict === "abort") return Effect.fail(new Stop())
            if (verdict === "done") Deferred.unsafeDone(sawDone, Exit.void)
            return Effect.void
          })
        ),
        Effect.catchIf((e): e is Stop => e instanceof Stop, () => Effect.void)
      )
      // ... but an engine that keeps the body open after the last event is not waited for long
      const drainLimit = Deferred.await(sawDone).pipe(Effect.zipRight(Effect.sleep(drainAfterDoneMs)))
      yield* Effect.raceFirst(readAll, drainLimit)
    })
    if (signal === undefined) return exchange
    const aborted = Effect.async<never, EngineFailure>((resume) => {
      const onAbort = () => resume(Effect.fail(fail("aborted")))
      if (signal.aborted) return onAbort()
      signal.addEventListener("abort", onAbort, { once: true })
      return Effect.sync(() => signal.removeEventListener("abort", onAbort))
    })
    return Effect.raceFirst(exchange, aborted)
  }
})

/**
 * The transport in context, or one over the `HttpClient` in context when none is provided.
 *
 * @category utils
 * @since 0.1.0
 */
export const current: Effect.Effect<EngineTransportService, never, HttpClient.HttpClient> = Effect.flatMap(
  Effect.serviceOption(EngineTransport),
  (provided) =>
    provided._tag === "Some" ? Effect.succeed(provided.value) : Effect.map(HttpClient.HttpClient, fromHttpClient)
)
