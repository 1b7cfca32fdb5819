/**
 * The engine transport over undici's dispatcher (Node's own HTTP client library), with keep-alive
 * connection pools that live as long as the layer. It skips what a general HTTP client does per
 * request (request and response objects, URL and header copies, an abort controller, a body stream
 * with stages): the request is written to an idle connection before `post` returns to the
 * scheduler, and each chunk of the body goes to the reader from the connection's own callback.
 *
 * After the reader has what it needs the rest of the body is read and dropped in the background,
 * so the answer is not held up by it, for at most `drainAfterDoneMs`; closing the layer cuts
 * whatever is still open.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Agent, type Dispatcher } from "undici"
import {
  drainAfterDoneMs as defaultDrainMs,
  EngineFailure,
  EngineTransport,
  type EngineTransportService,
  withCause
} from "./EngineTransport.js"

/**
 * Options of the Node transport.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** How long a body may stay open after the reader said `"done"` (default one second). */
  readonly drainAfterDoneMs?: number | undefined
}

const plainHeaders = { "content-type": "application/json", accept: "text/event-stream" } as const

/** How much of a refusal's body goes into the error. */
const refusalChars = 200

/**
 * Builds the transport; its connection pools close with the scope.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<EngineTransportService, never, Scope.Scope> =>
  Effect.gen(function*() {
    const drainMs = options.drainAfterDoneMs ?? defaultDrainMs
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() => new Agent()),
      (agent) => Effect.promise(() => agent.destroy())
    )

    const post: EngineTransportService["post"] = (url, body, onBytes, signal, authorization) =>
      Effect.async<void, EngineFailure>((resume) => {
        const fail = (reason: string, status?: number) =>
          resume(Effect.fail(new EngineFailure({ url, reason, ...(status === undefined ? {} : { status }) })))
        let target: URL
        try {
          target = new URL(url)
        } catch {
          fail("invalid engine URL")
          return
        }
        let settled = false
        let controller: Dispatcher.DispatchController | undefined
        const cut = (reason: string) => controller?.abort(new Error(reason))
        const onAbort = () => {
          // settled first: cutting calls the error callback at once, which must find it settled
          if (!settle()) return
          cut("aborted")
          fail("aborted")
        }
        const settle = (): boolean => {
          if (settled) return false
          settled = true
          signal?.removeEventListener("abort", onAbort)
          return true
        }

        const send = (attempt: number) => {
          let status = 0
          let refusal = ""
          let timer: ReturnType<typeof setTimeout> | undefined
          agent.dispatch({
            origin: target.origin,
            path: target.pathname + target.search,
            method: "POST",
            headers: authorization === undefined ? plainHeaders : { ...plainHeaders, authorization },
            body
          }, {
            onRequestStart: (c) => {
              controller = c
            },
            onResponseStart: (_c, statusCode) => {
              status = statusCode
            },
            onResponseData: (_c, chunk) => {
              if (status < 200 || status >= 300) {
                if (refusal.length < refusalChars) refusal += chunk.toString("utf8")
                return
              }
              if (settled) return
              const verdict = onBytes(chunk)
              if (verdict === "more") return
              settle()
              if (verdict === "abort") cut("the reader stopped")
              // read the rest in the background, so the connection goes back to its pool
              else timer = setTimeout(() => cut("the body stayed open after the final event"), drainMs)
              resume(Effect.void)
            },
            onResponseEnd: () => {
              if (timer !== undefined) clearTimeout(timer)
              if (!settle()) return
              if (status >= 200 && status < 300) resume(Effect.void)
              else fail(`engine answered ${refusal.slice(0, refusalChars)}`, status)
            },
            onResponseError: (_c, error) => {
              if (timer !== undefined) clearTimeout(timer)
              if (settled) return
              // a pooled keep-alive connection the engine closed meanwhile fails before any
              // answer (the engine saw no request): the request goes once more on a fresh one
              if (status === 0 && attempt === 0) return send(1)
              settle()
              fail(withCause(status === 0 ? "request failed" : "connection failed", error))
            }
          })
        }

        if (signal?.aborted === true) return fail("aborted")
        signal?.addEventListener("abort", onAbort, { once: true })
        send(0)
        return Effect.sync(() => {
          if (settle()) cut("interrupted")
        })
      })

    return { post }
  })

/**
 * The Node transport as the `EngineTransport` layer.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<EngineTransport> =>
  Layer.scoped(EngineTransport, make(options))
