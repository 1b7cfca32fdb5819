/** pool-managerd's RPC endpoint in-process: `PoolRpcs` served over real HTTP on 127.0.0.1:0. */
import { HttpLayerRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { PoolManager, PoolRpcHandlers, RemotePolicy } from "@llama-orch/pool-core"
import { Context, Effect, Layer, type Redacted } from "effect"
import { createServer } from "node:http"

/**
 * Serves the `PoolManager` built by `managerLayer` at `/rpc` (HTTP+NDJSON and WebSocket) for the
 * current scope and returns the server's base URL.
 */
export const serveRpc = <E>(
  managerLayer: Layer.Layer<PoolManager, E>,
  token: Redacted.Redacted<string> | undefined
) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      HttpLayerRouter.serve(
        PoolRpcHandlers.layerRoute({ token, remote: RemotePolicy.RemotePolicy.make({ allowRegister: true }) }),
        { disableLogger: true }
      ).pipe(
        Layer.provide(managerLayer),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
      )
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return `http://127.0.0.1:${address.port}`
  })
