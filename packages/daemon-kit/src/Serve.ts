/**
 * Serving an `HttpLayerRouter` application on Node's HTTP server, announcing the real address on
 * stdout with exactly one line, `listening on http://HOST:PORT`, once connections are accepted.
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"
import * as ShutdownSignal from "./ShutdownSignal.js"

/**
 * Where to listen. `port: 0` lets the operating system pick a free port.
 *
 * @category models
 * @since 0.1.0
 */
export interface ListenOptions {
  readonly host: string
  readonly port: number
}

/**
 * The URL of a listening address (`http://127.0.0.1:9200`, `http://[::1]:9200`).
 *
 * @category utils
 * @since 0.1.0
 */
export const addressUrl = (address: HttpServer.Address): string =>
  address._tag === "UnixAddress"
    ? `http+unix://${address.path}`
    : `http://${address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname}:${address.port}`

/**
 * Prints `listening on <url>` on stdout, once.
 *
 * @category layers
 * @since 0.1.0
 */
export const announce: Layer.Layer<never, never, HttpServer.HttpServer> = Layer.effectDiscard(
  HttpServer.addressWith((address) => Effect.sync(() => process.stdout.write(`listening on ${addressUrl(address)}\n`)))
)

/**
 * Serves `routes` (layers adding routes to an `HttpLayerRouter`) at `host:port` and announces the
 * address. Routes may use `ShutdownSignal`, which fires after they are removed and before the
 * server waits for open responses. The announcement comes after the routes are installed, so a
 * client that waits for the line never sees a 404 from a half-built server.
 *
 * Provides nothing; run it with `Layer.launch`. Fails with `ServeError` when the address cannot be
 * bound.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = <E, R>(routes: Layer.Layer<never, E, R>, options: ListenOptions) =>
  announce.pipe(
    Layer.provide(HttpLayerRouter.serve(routes, { disableListenLog: true, disableLogger: true })),
    Layer.provide(ShutdownSignal.layer),
    Layer.provide(NodeHttpServer.layer(() => createServer(), { host: options.host, port: options.port }))
  )
