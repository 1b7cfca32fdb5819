/**
 * Server-sent events: framing of task and pool events, comment heartbeats, and the response that
 * ends itself with a final event when the daemon shuts down.
 *
 * @since 0.1.0
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ShutdownSignal } from "@llama-orch/daemon-kit"
import { type SequencedEvent, TaskEvent } from "@llama-orch/orchestrator-core"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

const encodeTaskEvent = Schema.encodeSync(TaskEvent)

/**
 * One SSE frame: optional `id:`, `event:` and a single-line JSON `data:`.
 *
 * @since 0.1.0
 */
export const frame = (event: string, data: unknown, id?: number | string): string =>
  `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

/**
 * A task event as an SSE frame: the sequence number as `id:`, the event tag as `event:` and the
 * snake_case encoding of the event (without its tag) as `data:`.
 *
 * @since 0.1.0
 */
export const taskEventFrame = (sequenced: SequencedEvent): string => {
  const event = sequenced.event
  // the hot path: one frame per token, without going through the union's encoder
  if (event._tag === "token") {
    return `id: ${sequenced.id}\nevent: token\ndata: {"t":${JSON.stringify(event.t)},"i":${event.i}}\n\n`
  }
  const { _tag, ...data } = encodeTaskEvent(event)
  return frame(_tag, data, sequenced.id)
}

/**
 * The comment frame sent as a heartbeat.
 *
 * @since 0.1.0
 */
export const heartbeatFrame = ": heartbeat\n\n"

/**
 * The final frame of a task stream cut by shutdown: a retriable `error` without an id, so a client
 * that reconnects elsewhere resumes from the last real event.
 *
 * @since 0.1.0
 */
export const shutdownFrame = frame("error", {
  code: "POOL_UNAVAILABLE",
  message: "orchestratord is shutting down",
  retriable: true,
  retry_after_ms: 1000
})

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
 * Serves a stream of frames as `text/event-stream`: a `retry:` hint first (which also flushes the
 * headers), comment heartbeats every `heartbeatMs` while the stream lives, and `final` appended when
 * the daemon shuts down while the stream is open.
 *
 * The frames, the heartbeat timer and the shutdown signal each feed one mailbox from their own
 * fiber, forked once per response: a frame costs an offer, not a fiber per element as merging or
 * interrupting streams would.
 *
 * @since 0.1.0
 */
export const response = <R>(
  frames: Stream.Stream<string, never, R>,
  options: { readonly heartbeatMs: number; readonly final: string }
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R | ShutdownSignal.ShutdownSignal> =>
  Effect.map(Effect.context<R | ShutdownSignal.ShutdownSignal>(), (context) => {
    const body = Stream.asyncPush<string, never, R | ShutdownSignal.ShutdownSignal>((emit) =>
      Effect.gen(function*() {
        const signal = yield* ShutdownSignal.ShutdownSignal
        yield* signal.await.pipe(
          Effect.zipRight(Effect.sync(() => {
            emit.single(options.final)
            emit.end()
          })),
          Effect.forkScoped
        )
        yield* Stream.runForEachChunk(frames, (chunk) => Effect.sync(() => emit.chunk(chunk))).pipe(
          Effect.ensuring(Effect.sync(() => emit.end())),
          Effect.forkScoped
        )
        yield* Effect.sync(() => emit.single(heartbeatFrame)).pipe(
          Effect.delay(options.heartbeatMs),
          Effect.forever,
          Effect.forkScoped
        )
      }), { bufferSize: "unbounded" }).pipe(
        // frames that are ready together go out in one write
        Stream.mapChunks((chunk) => chunk.length <= 1 ? chunk : Chunk.of(Chunk.join(chunk, "")))
      )
    const bytes = Stream.concat(Stream.make("retry: 1000\n\n"), body).pipe(
      Stream.encodeText,
      Stream.provideContext(context)
    )
    return HttpServerResponse.stream(bytes, { contentType: "text/event-stream", headers })
  })
