/**
 * A third-party program built only from the published packages: an embedded pool on the mock
 * engine, a lease, and a completion streamed through the orchestrator.
 */
import { NodeContext, NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import * as DaemonKit from "@llama-orch/daemon-kit"
import { mockEngineProfile } from "@llama-orch/mock-engine"
import { Orchestrator, TaskRequest } from "@llama-orch/orchestrator-core"
import { PoolClient } from "@llama-orch/pool-client"
import { EmbeddedPoolManager, PoolId, PoolManager, PoolRpcs, PoolSpec } from "@llama-orch/pool-core"
import { Console, Effect, Layer, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "consumer-state-"))
const poolId = PoolId.make("consumer-0")

const Pools = EmbeddedPoolManager.layer({
  stateDir,
  stopGraceMs: 2_000,
  // the mock engine's own profile: mock-engine builds it with the pool-core the program uses
  profiles: [mockEngineProfile()],
  pools: [new PoolSpec({ id: poolId, engine: "mock", model: "mock-model", slots: 2, ctxMax: 4096, preload: false })]
})

const Live = Orchestrator.layer({}).pipe(
  Layer.provideMerge(Pools),
  Layer.provide([NodeContext.layer, NodeHttpClient.layerUndici])
)

const program = Effect.gen(function*() {
  const pools = yield* PoolManager
  const handoff = yield* pools.preload(poolId)
  yield* Console.log(`consumer: ${handoff.poolId} ready at ${handoff.url} (generation ${handoff.generation})`)

  const lease = yield* Effect.scoped(pools.lease(poolId))
  yield* Console.log(`consumer: leased ${lease.leaseId} on ${lease.url}`)

  const orchestrator = yield* Orchestrator
  const admission = yield* orchestrator.submit(
    new TaskRequest({ modelRef: "mock-model", prompt: "Hello from a consumer", maxTokens: 8, priority: "interactive" })
  )
  const events = yield* orchestrator.events(admission.taskId).pipe(Stream.runCollect)
  const tokens = [...events].flatMap((e) => (e.event._tag === "token" ? [e.event.t] : []))
  const last = [...events].at(-1)?.event._tag
  if (tokens.length !== 8 || last !== "end") {
    return yield* Effect.dieMessage(`unexpected stream: ${tokens.length} tokens, ends with ${last}`)
  }
  yield* Console.log(`consumer: streamed "${tokens.join("")}"`)

  // The other entry points load and expose what their READMEs promise.
  if (typeof PoolClient.layer !== "function" || PoolRpcs.requests.size === 0 || typeof DaemonKit !== "object") {
    return yield* Effect.dieMessage("missing exports")
  }
  const status = yield* pools.status(poolId)
  if (status.activeLeases !== 0) return yield* Effect.dieMessage("lease not released")
})

NodeRuntime.runMain(
  program.pipe(
    Effect.provide(Live),
    Effect.tap(() => Console.log("consumer: ok")),
    Effect.ensuring(Effect.sync(() => fs.rmSync(stateDir, { recursive: true, force: true })))
  )
)
