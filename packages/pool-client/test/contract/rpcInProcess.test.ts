/**
 * The contract suite against pool-client talking to an in-process RPC server that serves the
 * embedded manager over real HTTP: HTTP+NDJSON and WebSocket, same assertions.
 */
import { NodeHttpClient, NodeSocket } from "@effect/platform-node"
import { Effect, Layer, Redacted } from "effect"
import { PoolClient } from "../../src/index.js"
import { embeddedLayer } from "../support/embedded.js"
import { serveRpc } from "../support/rpcServer.js"
import { poolManagerContract } from "./poolManagerContract.js"

const token = Redacted.make("contract-token")

poolManagerContract(
  "pool-client over HTTP+NDJSON (in-process server)",
  Layer.unwrapScoped(
    Effect.map(
      serveRpc(embeddedLayer, token),
      (url) => PoolClient.layer({ url, token }).pipe(Layer.provide(NodeHttpClient.layerUndici))
    )
  )
)

poolManagerContract(
  "pool-client over WebSocket (in-process server)",
  Layer.unwrapScoped(
    Effect.map(serveRpc(embeddedLayer, token), (url) =>
      PoolClient.layer({ url, token, protocol: "websocket" }).pipe(
        Layer.provide(NodeSocket.layerWebSocketConstructor)
      ))
  )
)
