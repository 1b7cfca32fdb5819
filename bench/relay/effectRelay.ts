/**
 * The Effect floor of the relay benchmark: `plainRelay.mjs` written with the building blocks
 * orchestratord uses — `@effect/platform`'s Node HTTP server and router, the request body read as
 * text, orchestrator-core's undici engine transport, and a Node readable as the response body —
 * with no queue, no lease, no validation and no task log. What this adds over the bare relay is
 * what the platform costs on this machine; what orchestratord adds over this is its own work.
 *
 *   node --conditions=@llama-orch/source --import tsx bench/relay/effectRelay.ts http://127.0.0.1:ENGINE_PORT
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as DaemonMain from "@llama-orch/daemon-kit/DaemonMain"
import * as NodeEngineTransport from "@llama-orch/orchestrator-core/NodeEngineTransport"
import * as Effect from "effect/Effect"
import { createServer } from "node:http"
import { Readable } from "node:stream"

const engine = `${process.argv[2] ?? "http://127.0.0.1:8080"}/v1/completions`

/** The first choice of an engine chunk, re-sent as a completion chunk. */
const firstChoice = (data: string): unknown => {
  const chunk: unknown = JSON.parse(data)
  const choices = typeof chunk === "object" && chunk !== null && "choices" in chunk ? chunk.choices : undefined
  return Array.isArray(choices) ? choices[0] : undefined
}

const relay = Effect.gen(function*() {
  const transport = yield* NodeEngineTransport.make()
  return HttpRouter.empty.pipe(
    HttpRouter.post(
      "/v1/completions",
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const body = yield* request.text
        const out = new Readable({ read() {} })
        const text = new TextDecoder()
        let buffer = ""
        const onBytes = (bytes: Uint8Array) => {
          buffer += text.decode(bytes, { stream: true })
          let frames = ""
          let end = buffer.indexOf("\n\n")
          let done = false
          while (end !== -1) {
            const data = buffer.slice(buffer.indexOf("data: ") + 6, end)
            buffer = buffer.slice(end + 2)
            if (data === "[DONE]") {
              frames += "data: [DONE]\n\n"
              done = true
            } else {
              frames += `data: ${JSON.stringify({ object: "text_completion", choices: [firstChoice(data)] })}\n\n`
            }
            end = buffer.indexOf("\n\n")
          }
          if (frames !== "") out.push(frames)
          return done ? "done" as const : "more" as const
        }
        yield* transport.post(engine, body, onBytes).pipe(
          Effect.ensuring(Effect.sync(() => out.push(null))),
          Effect.forkScoped
        )
        return HttpServerResponse.raw(out, {
          contentType: "text/event-stream",
          headers: { "cache-control": "no-cache" }
        })
      }).pipe(Effect.orDie)
    )
  )
})

const main = Effect.gen(function*() {
  const router = yield* relay
  yield* HttpServer.serveEffect(router)
  const address = yield* HttpServer.addressWith(Effect.succeed)
  if (address._tag === "TcpAddress") process.stdout.write(`listening on http://127.0.0.1:${address.port}\n`)
  return yield* Effect.never
}).pipe(
  Effect.scoped,
  Effect.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
  DaemonMain.withoutTracing
)

NodeRuntime.runMain(main)
