/**
 * The HTTP server of the runtime benchmark: `GET /health` answering `{"status":"ok"}`, either on a
 * bare `node:http` server (`bare`) or on Effect's `NodeHttpServer` with an `HttpRouter` (`effect`).
 * Prints `listening on http://127.0.0.1:PORT`.
 *
 *   node --import tsx bench/runtime/server.ts bare|effect
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Console, Effect, Layer } from "effect"
import { createServer } from "node:http"

const listening = (port: number) => `listening on http://127.0.0.1:${port}`

if (process.argv[2] === "bare") {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" })
    res.end("{\"status\":\"ok\"}")
  })
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    process.stdout.write(`${listening(typeof address === "object" && address !== null ? address.port : 0)}\n`)
  })
} else {
  const app = HttpRouter.empty.pipe(HttpRouter.get("/health", HttpServerResponse.json({ status: "ok" })))
  const serve = Effect.gen(function*() {
    yield* HttpServer.serveEffect(app)
    const server = yield* HttpServer.HttpServer
    yield* Console.log(listening(server.address._tag === "TcpAddress" ? server.address.port : 0))
  })
  Layer.scopedDiscard(serve).pipe(
    Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.launch,
    NodeRuntime.runMain
  )
}
