/**
 * The checks of ModelsOnDemand.e2e.test.ts with the catalog in a pool-managerd process: orchestratord
 * asks it over RPC to load, list and unload models, and its loads are cancelled when their last
 * waiter leaves, across the process boundary.
 */
import { FileSystem } from "@effect/platform"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { layer } from "@effect/vitest"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { Effect, Layer } from "effect"
import { fileURLToPath } from "node:url"
import { spawnWithConfig } from "./fixtures/daemon.js"
import { catalogLines, ModelsDaemon, modelsSuite, queueLines } from "./fixtures/models.js"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const poolManagerd = fileURLToPath(new URL("../../pool-managerd/src/bin.ts", import.meta.url))
const token = "models-on-demand-secret"

const DaemonLive = Layer.scoped(
  ModelsDaemon,
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "models-remote-" })
    yield* fs.writeFileString(
      `${dir}/pool-managerd.yaml`,
      [`state_dir: ${JSON.stringify(`${dir}/state`)}`, "stop_grace_ms: 2000", ...catalogLines].join("\n")
    )
    const pm = yield* SpawnDaemon.spawnDaemon({
      entry: poolManagerd,
      args: ["--config", `${dir}/pool-managerd.yaml`, "--port", "0"],
      cwd: root,
      env: { POOL_MANAGERD_TOKEN: token },
      startTimeout: "120 seconds"
    })
    const orch = yield* spawnWithConfig([
      `pool_manager: { url: ${JSON.stringify(pm.url)}, token: ${JSON.stringify(token)} }`,
      ...queueLines
    ])
    return { url: orch.url }
  })
).pipe(Layer.provide(NodeContext.layer))

layer(DaemonLive, { excludeTestServices: true, timeout: 120_000 })("models on demand (pool-managerd)", modelsSuite)
