/**
 * The engine transport over Node's `http` and `https` modules, with keep-alive connection pools
 * that live as long as the layer. It skips what a general HTTP client does per request (request and
 * response objects, URL and header copies, an abort controller, a body stream with stages) and
 * hands each chunk of the body to the reader from the socket's own event.
 *
 * After the reader has what it needs the rest of the body is read and dropped in the background,
 * so the answer is not held up by it, for at most `drainAfterDoneMs`; closing the layer cuts
 * whatever is still open.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as http from "node:http"
import * as https from "node:https"
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
 * @since 0.2.0
 */
export interface Options {
  /** How long a body may stay open after the reader said `"done"` (default one second). */
  readonly drainAfterDoneMs?: number | undefined
}

/** How much of a refusal's body goes into the error. */
const refusalChars = 200

/**
 * Builds the transport; its connection pools close with the scope.
 *
 * @since 0.2.0
 */
export const make = (options: Options = {}): Effect.Effect<EngineTransportService, never, Scope.Scope> =>
  Effect.gen(function*() {
    const drainMs = options.drainAfterDoneMs ?? defaultDrainMs
    const plain = new http.Agent({ keepAlive: true })
    const secure = new https.Agent({ keepAlive: true })
    const draining = new Set<http.ClientRequest>()
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const request of draining) request.destroy()
        plain.destroy()
        secure.destroy()
      })
    )

    const post: EngineTransportService["post"] = (url, body, onBytes) =>
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
        const secureTarget = target.protocol === "https:"
        let settled = false
        let current: http.ClientRequest | undefined
        const settle = (): boolean => {
          if (settled) return false
          settled = true
          return true
        }

        const send = (attempt: number) => {
          let responded = false
          const request = (secureTarget ? https : http).request({
            agent: secureTarget ? secure : plain,
            protocol: target.protocol,
            hostname: target.hostname.startsWith("[") ? target.hostname.slice(1, -1) : target.hostname,
            port: target.port,
            path: target.pathname + target.search,
            method: "POST",
            headers: {
              "content-type": "application/json",
              "content-length": Buffer.byteLength(body),
              accept: "text/event-stream"
            }
          })
          current = request
          request.on("error", (error) => {
            if (settled) return
            // a pooled keep-alive connection the engine closed meanwhile fails before any answer
            // (the engine saw no request): the request goes once more on a fresh one
            if (!responded && request.reusedSocket && attempt === 0) return send(1)
            if (settle()) fail(withCause(responded ? "connection failed" : "request failed", error))
          })
          request.on("response", (response) => {
            responded = true
            const status = response.statusCode ?? 0
            if (status < 200 || status >= 300) {
              let text = ""
              response.setEncoding("utf8")
              response.on("data", (chunk: string) => {
                if (text.length < refusalChars) text += chunk
              })
              const refuse = () => {
                if (settle()) fail(`engine answered ${text.slice(0, refusalChars)}`, status)
              }
              response.on("end", refuse)
              response.on("error", refuse)
              return
            }
            let timer: ReturnType<typeof setTimeout> | undefined
            response.on("data", (bytes: Buffer) => {
              if (settled) return
              const verdict = onBytes(bytes)
              if (verdict === "more") return
              settle()
              if (verdict === "abort") {
                request.destroy()
              } else if (!response.complete) {
                // read the rest in the background, so the connection goes back to the pool
                draining.add(request)
                timer = setTimeout(() => request.destroy(), drainMs)
              }
              resume(Effect.void)
            })
            response.on("error", (error) => {
              if (settle()) fail(withCause("connection failed", error))
            })
            response.on("close", () => {
              if (timer !== undefined) clearTimeout(timer)
              draining.delete(request)
              if (!settle()) return
              if (response.complete) resume(Effect.void)
              else fail("connection failed: the body was cut short")
            })
          })
          request.end(body)
        }

        send(0)
        return Effect.sync(() => {
          settled = true
          current?.destroy()
        })
      })

    return { post }
  })

/**
 * The Node transport as the `EngineTransport` layer.
 *
 * @since 0.2.0
 */
export const layer = (options: Options = {}): Layer.Layer<EngineTransport> =>
  Layer.scoped(EngineTransport, make(options))
