/** The embedded manager the tests serve or run directly: the contract profile, a temporary state dir. */
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { EmbeddedPoolManager } from "@llama-orch/pool-core"
import { Effect, Layer } from "effect"
import { catalogOptions } from "../contract/poolManagerContract.js"
import { contractProfile } from "./engine.js"

/** An embedded `PoolManager` on a fresh temporary state directory (removed when the layer closes). */
export const embeddedLayer = Layer.unwrapScoped(
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "pool-contract-" })
    return EmbeddedPoolManager.layer({
      profiles: [contractProfile],
      stateDir,
      stopGraceMs: 3_000,
      shutdownDeadlineMs: 3_000,
      ...catalogOptions
    })
  })
).pipe(Layer.provide([NodeContext.layer, NodeHttpClient.layerUndici]))
