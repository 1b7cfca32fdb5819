/**
 * The engine process itself: serve the routes, print the listening line, and the fault injections
 * that concern the process (crash on start, ignore SIGTERM).
 *
 * @internal
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import type { ServeError } from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { createServer } from "node:http"
import { EngineConfig, type EngineSettings } from "./config.js"
import { llamaError } from "./http.js"
import { llamaRoutes, loadingResponse } from "./llamacpp.js"
import { openAiRoutes } from "./openai.js"
import { EngineState, logLine } from "./state.js"

const notFound = llamaError({ status: 404, message: "File Not Found", type: "not_found_error" })
const invalidKey = llamaError({ status: 401, message: "Invalid API Key", type: "authentication_error" })
const publicPaths = new Set(["/health", "/v1/health"])

/** Every route, built once: a router is a lookup tree, not something to build per request. */
const routes = HttpRouter.concat(llamaRoutes, openAiRoutes)

/** Every route, answering 503 while the model loads (except `/health`, which says so itself) and 404 JSON. */
const app = Effect.gen(function*() {
  const state = yield* EngineState
  const request = yield* HttpServerRequest.HttpServerRequest
  const { apiKey } = yield* EngineConfig
  if (
    Option.isSome(apiKey) && !publicPaths.has(request.url) &&
    request.headers["authorization"] !== `Bearer ${Redacted.value(apiKey.value)}`
  ) return invalidKey
  if (request.url !== "/health" && !(yield* state.isLoaded)) return loadingResponse
  return yield* routes
}).pipe(Effect.catchTag("RouteNotFound", () => Effect.succeed(notFound)))

/** `http://host:port`, with IPv6 hosts in brackets. */
const origin = (host: string, port: number): string =>
  host.includes(":") ? `http://[${host}]:${port}` : `http://${host}:${port}`

/** Replaces the runtime's SIGTERM handling with a handler that only logs (SIGKILL still works). */
const ignoreSigterm = Effect.acquireRelease(
  Effect.sync(() => {
    const onSigterm = () => {
      process.stderr.write("main: received SIGTERM, ignoring it (--ignore-sigterm)\n")
    }
    process.removeAllListeners("SIGTERM")
    process.on("SIGTERM", onSigterm)
    return onSigterm
  }),
  (onSigterm) => Effect.sync(() => process.off("SIGTERM", onSigterm))
)

/** Serves the engine until interrupted; prints `listening on http://HOST:PORT` once connections are accepted. */
const serve = Effect.gen(function*() {
  const config = yield* EngineConfig
  yield* HttpServer.serveEffect(app)
  const server = yield* HttpServer.HttpServer
  const port = server.address._tag === "TcpAddress" ? server.address.port : config.port
  if (config.ignoreSigterm) yield* ignoreSigterm
  yield* Console.log(`listening on ${origin(config.host, port)}`)
})

/** Exits the process with the configured code after explaining why, before listening. */
const crashOnStart = (settings: EngineSettings): Effect.Effect<never> =>
  Effect.gen(function*() {
    yield* logLine(`llama_model_loader: loading model '${settings.model}'`)
    yield* logLine(`llama_model_load: error loading model: simulated failure (--crash-on-start)`)
    yield* logLine(`error: failed to load model '${settings.model}'`)
    yield* Effect.sync(() => process.exit(settings.exitCode))
    return yield* Effect.never
  })

/** Runs a mock engine with the given settings until the process is told to stop. */
export const runEngine = (settings: EngineSettings): Effect.Effect<void, ServeError> => {
  if (settings.crashOnStart) return crashOnStart(settings)
  const server = createServer()
  // On shutdown, cut open responses (streams, hung health checks) so `server.close()` returns promptly.
  const closeConnections = Layer.scopedDiscard(
    Effect.addFinalizer(() => Effect.sync(() => server.closeAllConnections()))
  )
  return Layer.scopedDiscard(serve).pipe(
    Layer.provide(closeConnections),
    Layer.provide(EngineState.layer),
    Layer.provide(NodeHttpServer.layer(() => server, { port: settings.port, host: settings.host })),
    Layer.provide(Layer.succeed(EngineConfig, settings)),
    Layer.launch,
    Effect.tapError((error) =>
      logLine(
        `error: couldn't bind HTTP server socket, hostname: ${settings.host}, port: ${settings.port}: ` +
          (error.cause instanceof Error ? error.cause.message : String(error.cause))
      )
    )
  )
}
