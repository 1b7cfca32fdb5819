/**
 * The `PoolManager` orchestratord runs on, chosen by the configuration: remote (pool-client to a
 * pool-managerd), a cluster (several pool-managerds, named and/or found in DNS) or embedded (the engines and pools of the file, or the built-in mock pool, run
 * by this process with the options `Config` decoded).
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { PoolClient, PoolCluster } from "@llama-orch/pool-client"
import { EmbeddedPoolManager, type PoolManager, type StateDirRefused } from "@llama-orch/pool-core"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { PoolsMode } from "./Config.js"

/**
 * The `PoolManager` layer of a mode.
 *
 * @since 0.1.0
 */
export const layer = (mode: PoolsMode): Layer.Layer<PoolManager, StateDirRefused> => {
  switch (mode._tag) {
    case "Remote":
      // the orchestrator follows the events itself (again every second): while they are down it
      // knows, and admission asks pool-managerd rather than trusting a stale view
      return PoolClient.layer({ url: mode.url, token: Option.getOrUndefined(mode.token), reconnect: false })
        .pipe(Layer.provide(NodeHttpClient.layerUndici))
    case "Cluster":
      return PoolCluster.layer(mode.options).pipe(
        Layer.provide([NodeHttpClient.layerUndici, NodeSocket.layerWebSocketConstructor])
      )
    case "Embedded":
      return EmbeddedPoolManager.layer(mode.options).pipe(
        Layer.provide([NodeContext.layer, NodeHttpClient.layerUndici])
      )
  }
}
