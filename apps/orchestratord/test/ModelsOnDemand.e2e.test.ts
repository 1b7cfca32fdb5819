/**
 * More models than memory, behind a real orchestratord process with embedded pools on mock engines:
 * catalogued models are listed unloaded, a request for one loads it and streams, concurrent requests
 * share one load, a cancelled last waiter cancels the load, a load that crashes reaches the waiting
 * tasks as MODEL_LOAD_FAILED, and alternating traffic over two models that do not fit together is
 * served in groups. The same checks run over a pool-managerd process in
 * ModelsOnDemandRemote.e2e.test.ts.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { spawnWithConfig } from "./fixtures/daemon.js"
import { catalogLines, ModelsDaemon, modelsSuite, queueLines } from "./fixtures/models.js"

const DaemonLive = Layer.scoped(
  ModelsDaemon,
  Effect.map(spawnWithConfig([...catalogLines, ...queueLines]), (daemon) => ({ url: daemon.url }))
).pipe(Layer.provide(NodeContext.layer))

layer(DaemonLive, { excludeTestServices: true, timeout: 120_000 })("models on demand (embedded pools)", modelsSuite)
