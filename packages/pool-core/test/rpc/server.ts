/** Test helpers: `PoolRpcs` served on a real HTTP server at 127.0.0.1:0, and a raw client for it. */
import { HttpLayerRouter, HttpServer } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { RpcClient, RpcSerialization } from "@effect/rpc"
import { Context, Effect, Layer, type Redacted } from "effect"
import { createServer } from "node:http"
import { PoolAuth, PoolRpcHandlers, PoolRpcs, RemotePolicy } from "../../src/index.js"
import { InMemoryPoolManager } from "../../src/testing.js"

/** Serves an in-memory manager over RPC with the given token; returns the server's base URL. */
export const serveInMemory = (token: Redacted.Redacted<string> | undefined) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      HttpLayerRouter.serve(
        PoolRpcHandlers.layerRoute({ token, remote: RemotePolicy.RemotePolicy.make({ allowRegister: true }) }),
        { disableLogger: true }
      ).pipe(
        Layer.provide(InMemoryPoolManager.layer()),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
      )
    )
    const server = Context.get(context, HttpServer.HttpServer)
    const address = server.address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return `http://127.0.0.1:${address.port}`
  })

/** A raw `PoolRpcs` client over HTTP+NDJSON sending the given token. */
export const rawClient = (baseUrl: string, token: Redacted.Redacted<string> | undefined) =>
  Effect.flatMap(
    Layer.build(
      Layer.mergeAll(
        RpcClient.layerProtocolHttp({ url: `${baseUrl}/rpc`, transformClient: PoolAuth.httpClientAuth(token) }).pipe(
          Layer.provide([RpcSerialization.layerNdjson, NodeHttpClient.layerUndici])
        ),
        PoolAuth.layerClient(token)
      )
    ),
    (context) => RpcClient.make(PoolRpcs).pipe(Effect.provide(context))
  )
