/**
 * Reading and discarding a Node request body with bounds, so a refusal (401, 413) reaches the
 * client instead of a reset connection, and an oversized body is never buffered.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { IncomingMessage } from "node:http"

/** Node's request behind a platform request's `source`, when it is one. */
export const incomingMessage = (source: unknown): IncomingMessage | undefined =>
  source instanceof IncomingMessage ? source : undefined

/** What `readBounded` got: the whole body, `TooLarge` once more than the limit arrived, or `Failed`. */
export type BoundedRead =
  | { readonly _tag: "Body"; readonly body: Buffer }
  | { readonly _tag: "TooLarge" }
  | { readonly _tag: "Failed" }

/**
 * Reads the body as it arrives, keeping at most `limit` bytes. Past the limit it stops keeping and
 * answers `TooLarge` at once; the rest is left to `discardRest`. A stream error (the client went
 * away mid-body) is `Failed`.
 */
export const readBounded = (source: IncomingMessage, limit: number): Effect.Effect<BoundedRead> =>
  Effect.async<BoundedRead>((resume) => {
    const chunks: Array<Buffer> = []
    let bytes = 0
    const stop = () => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError)
    }
    const onData = (chunk: Buffer) => {
      bytes += chunk.length
      if (bytes <= limit) return void chunks.push(chunk)
      stop()
      source.pause()
      resume(Effect.succeed({ _tag: "TooLarge" }))
    }
    const onEnd = () => {
      stop()
      resume(Effect.succeed({ _tag: "Body", body: Buffer.concat(chunks, bytes) }))
    }
    const onError = () => {
      stop()
      resume(Effect.succeed({ _tag: "Failed" }))
    }
    source.on("data", onData)
    source.once("end", onEnd)
    source.once("error", onError)
    return Effect.sync(stop)
  })

/**
 * Before a refusal is answered: reads and throws away what is left of the body, and completes when
 * it has ended, or at once past `limit` more bytes. Answering first is not enough: when the request
 * asked for `connection: close`, Node closes the socket right after the answer, and closing with
 * unread data makes the kernel reset the connection, so a client still sending sees EPIPE instead
 * of the status. Past `limit` reading stops (TCP backpressure holds the client) and the answer
 * goes out: the client is not owed unbounded bandwidth, and it still reads the answer.
 */
export const discardRest = (source: IncomingMessage, limit: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (source.readableEnded || source.destroyed) return resume(Effect.void)
    let bytes = 0
    const onData = (chunk: Buffer) => {
      bytes += chunk.length
      if (bytes <= limit) return
      source.off("data", onData)
      source.pause()
      resume(Effect.void)
    }
    const onDone = () => {
      source.off("data", onData)
      resume(Effect.void)
    }
    source.on("data", onData)
    source.once("end", onDone)
    source.once("error", onDone)
    source.resume()
  })
