/**
 * Server-sent events: framing of task and pool events, comment heartbeats, and the response that
 * ends itself with a final event when the daemon shuts down.
 *
 * @since 0.1.0
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ShutdownSignal } from "@llama-orch/daemon-kit"
import { Failed, type SequencedEvent, TaskEvent } from "@llama-orch/orchestrator-core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Readable } from "node:stream"
import { type ApiFailure, invalidParams, shuttingDown } from "./ApiFailure.js"
import { nodeResponse } from "./internal/nodeHttp.js"

const encodeTaskEvent = Schema.encodeSync(TaskEvent)
const encodeFailed = Schema.encodeSync(Failed)

/**
 * One SSE frame: optional `id:`, `event:` and a single-line JSON `data:`.
 *
 * @since 0.1.0
 */
export const frame = (event: string, data: unknown, id?: number | string): string =>
  `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

/**
 * The SSE event name of a failure on the `/v2` streams: a task's `failed` event, and the final
 * frame of a stream cut by shutdown or by the pool manager. Not `error`: a browser `EventSource`
 * hands an event of that name to its `onerror` handler, as if the connection had failed.
 *
 * @since 0.1.0
 */
export const failedEvent = "failed"

/**
 * The name the failure event had before `failed`, sent instead when a stream is requested with
 * `?legacy_error_event=1`; to be removed in the next minor release.
 *
 * @since 0.1.0
 */
export const legacyFailedEvent = "error"

/**
 * The name of the failure event: `failed`, or the legacy `error`.
 *
 * @since 0.1.0
 */
export type FailedEventName = typeof failedEvent | typeof legacyFailedEvent

/**
 * The query string of the `/v2` event streams: `legacy_error_event=1` names the failure event
 * `error`, as before `failed`. The value is checked by `failedEventName` rather than by the schema,
 * so a wrong one is answered with the API's own envelope (the framework's 400 has another body);
 * the document still shows the two values.
 *
 * @since 0.1.0
 */
export const StreamParams = Schema.Struct({
  legacy_error_event: Schema.optional(
    Schema.String.annotations({
      description: "`1` names the failure event `error`, as before it was `failed` (deprecated: removed in the next " +
        "minor release)",
      jsonSchema: { enum: ["0", "1"] }
    })
  )
})

/**
 * The failure event name a request asked for; 400 for a value other than `0` or `1`.
 *
 * @since 0.1.0
 */
export const failedEventName = (params: typeof StreamParams.Type): Either.Either<FailedEventName, ApiFailure> => {
  switch (params.legacy_error_event) {
    case undefined:
    case "0":
      return Either.right(failedEvent)
    case "1":
      return Either.right(legacyFailedEvent)
    default:
      return Either.left(
        invalidParams(
          `legacy_error_event: expected 0 or 1, got ${JSON.stringify(params.legacy_error_event.slice(0, 20))}`,
          "legacy_error_event"
        )
      )
  }
}

/**
 * A task event as an SSE frame: the sequence number as `id:`, the event tag as `event:` (a
 * `failed` event under `failedName`) and the snake_case encoding of the event (without its tag) as
 * `data:`.
 *
 * @since 0.1.0
 */
export const taskEventFrame = (sequenced: SequencedEvent, failedName: FailedEventName = failedEvent): string => {
  const event = sequenced.event
  // the hot path: one frame per token, without going through the union's encoder
  if (event._tag === "token" && event.c === undefined && event.x === undefined) {
    return `id: ${sequenced.id}\nevent: token\ndata: {"t":${JSON.stringify(event.t)},"i":${event.i}}\n\n`
  }
  const { _tag, ...data } = encodeTaskEvent(event)
  return frame(_tag === "failed" ? failedName : _tag, data, sequenced.id)
}

/**
 * The comment frame sent as a heartbeat.
 *
 * @since 0.1.0
 */
export const heartbeatFrame = ": heartbeat\n\n"

/**
 * The final frame of a `/v2` stream cut by shutdown: a retriable failure event without an id, so a
 * client that reconnects elsewhere resumes from the last real event.
 *
 * @since 0.1.0
 */
export const shutdownFrame = (failedName: FailedEventName = failedEvent): string => {
  const { code, message, retriable, retryAfterMs } = shuttingDown().envelope
  return frame(failedName, failedData({ _tag: "failed", code, message, retriable, retryAfterMs }))
}

/**
 * The data of a `failed` event (without its tag), for the frames that are not a task's own event.
 *
 * @since 0.1.0
 */
export const failedData = (event: Failed): Omit<typeof Failed.Encoded, "_tag"> => {
  const { _tag, ...data } = encodeFailed(event)
  return data
}

/**
 * The headers of every SSE response.
 *
 * @since 0.1.0
 */
export const headers = {
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
  connection: "keep-alive"
} as const

/**
 * What a push-based event stream hands its source: `frame` writes one frame, `end` ends the
 * response (later frames are dropped).
 *
 * @since 0.1.0
 */
export interface Emit {
  readonly frame: (frame: string) => void
  readonly end: () => void
}

/**
 * Serves `text/event-stream` fed by `register`, which runs in the request's scope and pushes frames
 * synchronously: a `retry:` hint (or `options.opening`) first, which also flushes the headers, comment heartbeats every
 * `heartbeatMs`, and `final` appended when the daemon shuts down while the response is open.
 *
 * The body is a Node readable the server pipes to the socket, so a frame costs one push and no
 * stream stage or fiber hop; once the server has written the head and the readable has nothing
 * queued, frames are written to Node's response directly (no readable, no pipe, no `Buffer` per
 * frame), in the same order. Everything `register` starts ends with the request's scope: when the
 * response has been written after `end`, when the client goes away, or at shutdown.
 *
 * @since 0.1.0
 */
export const push = <R>(
  register: (emit: Emit) => Effect.Effect<unknown, never, R | Scope.Scope>,
  options: Options
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  R | ShutdownSignal.ShutdownSignal | Scope.Scope | HttpServerRequest.HttpServerRequest
> =>
  Effect.gen(function*() {
    const signal = yield* ShutdownSignal.ShutdownSignal
    const direct = nodeResponse(yield* HttpServerRequest.HttpServerRequest)
    const body = new Readable({ read() {} })
    const limit = options.maxBufferedBytes ?? defaultMaxBufferedBytes
    let ended = false
    let cut = false
    const emit: Emit = {
      frame: (frame) => {
        if (ended) return
        // the head is out and everything pushed before has gone through the pipe: write directly
        if (
          direct !== undefined && direct.headersSent && body.readableLength === 0 && !direct.writableEnded &&
          !direct.destroyed
        ) {
          direct.write(frame)
        } else {
          body.push(frame)
        }
        // a client that stopped reading: cut it rather than buffer without end (a task stream
        // resumes with Last-Event-ID, a pool stream starts again with a snapshot)
        if (body.readableLength + (direct?.writableLength ?? 0) > limit) {
          ended = true
          cut = true
          body.destroy()
        }
      },
      end: () => {
        if (ended) return
        ended = true
        body.push(null)
      }
    }
    emit.frame(options.opening ?? "retry: 1000\n\n")
    // a callback and a timer rather than two fibers: a response costs no fork for either
    yield* signal.onShutdown(() => {
      emit.frame(typeof options.final === "string" ? options.final : options.final())
      emit.end()
    })
    const heartbeat = setInterval(() => emit.frame(heartbeatFrame), options.heartbeatMs)
    // one plain finalizer on the request's scope (`addFinalizer` would diff every fiber ref twice)
    yield* Effect.scopeWith((scope) =>
      Scope.addFinalizer(
        scope,
        Effect.suspend(() => {
          clearInterval(heartbeat)
          return cut
            ? Effect.logWarning(`Cut an event stream whose client read nothing while ${limit} bytes piled up.`)
            : Effect.sync(emit.end)
        })
      )
    )
    yield* register(emit)
    return HttpServerResponse.raw(body, { contentType: "text/event-stream", headers })
  })

/**
 * How much an event stream may buffer for a client that does not read before it is cut: 8 MiB.
 *
 * @since 0.1.0
 */
export const defaultMaxBufferedBytes = 8 * 1024 * 1024

/**
 * Options of an event stream: heartbeat interval, the frame sent at shutdown, and the buffer limit
 * for a client that does not read (`defaultMaxBufferedBytes` when absent).
 *
 * @since 0.1.0
 */
export interface Options {
  readonly heartbeatMs: number
  /** The frame sent at shutdown, or what makes it then (from the state of the stream). */
  readonly final: string | (() => string)
  /**
   * The first frame, which also flushes the headers: `retry: 1000` by default. OpenAI-compatible
   * streams carry only `data:` events (clients such as the Python `openai` parse every event as
   * JSON), so they open with a comment.
   */
  readonly opening?: string | undefined
  readonly maxBufferedBytes?: number | undefined
}

/**
 * `push` fed by a stream of frames (for low-rate streams such as pool events): the response ends
 * when the stream does.
 *
 * @since 0.1.0
 */
export const response = <R>(
  frames: Stream.Stream<string, never, R>,
  options: Options
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  R | ShutdownSignal.ShutdownSignal | Scope.Scope | HttpServerRequest.HttpServerRequest
> =>
  push(
    (emit) =>
      Stream.runForEach(frames, (frame) => Effect.sync(() => emit.frame(frame))).pipe(
        Effect.ensuring(Effect.sync(emit.end)),
        Effect.forkScoped
      ),
    options
  )
