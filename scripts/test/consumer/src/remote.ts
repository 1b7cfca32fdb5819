/**
 * The installed pool-managerd bin, started with SpawnDaemon (plain node), serves a mock pool; an
 * orchestrator over pool-client's layer streams a completion from it. pool-client's `PoolManager`
 * satisfies orchestrator-core's requirement only if both see the one copy of pool-core.
 */
import { NodeContext, NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { Orchestrator, TaskRequest } from "@llama-orch/orchestrator-core"
import { PoolClient } from "@llama-orch/pool-client"
import { PoolId, PoolManager } from "@llama-orch/pool-core"
import { Console, Effect, Layer, Stream } from "effect"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"

const manifest = createRequire(import.meta.url).resolve("@llama-orch/pool-managerd/package.json")
const bin = path.join(path.dirname(manifest), "bin/pool-managerd.js")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "consumer-remote-"))
const config = path.join(dir, "pools.yaml")
fs.writeFileSync(
  config,
  [
    "engines:",
    "  - name: mock",
    "    mock: true",
    "pools:",
    "  - id: remote-0",
    "    engine: mock",
    "    model: mock-model",
    "    slots: 2"
  ].join("\n")
)

const program = Effect.gen(function*() {
  const daemon = yield* SpawnDaemon.spawnDaemon({
    entry: bin,
    args: ["--config", config, "--port", "0", "--state-dir", path.join(dir, "state")]
  })
  yield* Console.log(`consumer: pool-managerd at ${daemon.url}`)
  const Remote = Orchestrator.layer({}).pipe(
    Layer.provideMerge(PoolClient.layer({ url: daemon.url })),
    Layer.provide(NodeHttpClient.layerUndici)
  )
  yield* Effect.gen(function*() {
    const orchestrator = yield* Orchestrator
    const admission = yield* orchestrator.submit(
      new TaskRequest({ modelRef: "mock-model", prompt: "Hello over RPC", maxTokens: 8, priority: "interactive" })
    )
    const events = yield* orchestrator.events(admission.taskId).pipe(Stream.runCollect)
    const tokens = [...events].flatMap((e) => (e.event._tag === "token" ? [e.event.t] : []))
    if (tokens.length !== 8 || [...events].at(-1)?.event._tag !== "end") {
      return yield* Effect.dieMessage(`unexpected remote stream: ${tokens.length} tokens`)
    }
    const pools = yield* PoolManager
    const status = yield* pools.status(PoolId.make("remote-0"))
    yield* Console.log(`consumer: streamed "${tokens.join("")}" from ${status.poolId} over pool-client`)
  }).pipe(Effect.provide(Remote))
})

NodeRuntime.runMain(
  program.pipe(
    Effect.scoped,
    Effect.provide(NodeContext.layer),
    Effect.tap(() => Console.log("consumer remote: ok")),
    Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
  )
)
