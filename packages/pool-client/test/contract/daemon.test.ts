/**
 * The contract suite against pool-client talking to a real pool-managerd process started by the
 * test — the deciding run: same assertions as against the embedded layer.
 */
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Redacted } from "effect"
import { PoolClient } from "../../src/index.js"
import { makeHome, startDaemon } from "../support/daemon.js"
import { poolManagerContract } from "./poolManagerContract.js"

const token = Redacted.make("contract-daemon-token")

poolManagerContract(
  "pool-client <-> pool-managerd process",
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const daemon = yield* startDaemon(yield* makeHome(token))
      return PoolClient.layer({ url: daemon.url, token }).pipe(Layer.provide(NodeHttpClient.layerUndici))
    })
  ).pipe(Layer.provide(NodeContext.layer)),
  { catalog: true }
)
