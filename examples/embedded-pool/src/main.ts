/**
 * Embeds a pool manager in a program: starts a pool on the mock engine, prints its handoff, leases
 * a slot for one completion, and stops cleanly (the engine is drained and stopped when the program's
 * scope closes, also on Ctrl-C).
 *
 *     npx --yes pnpm@10.34.8 --filter @llama-orch/example-embedded-pool start
 */
import { NodeContext, NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import { mockEngineCommand, mockEngineProfileArgs } from "@llama-orch/mock-engine"
import { EmbeddedPoolManager, EngineProfile, PoolId, PoolManager, PoolSpec } from "@llama-orch/pool-core"
import { Console, Effect, Layer } from "effect"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"

// how to run the engine: the mock engine here; a real setup names llama-server and its flags
const mock = mockEngineCommand()
const mockProfile = new EngineProfile({
  name: "mock",
  protocol: "llamacpp",
  command: mock.command,
  args: [...mock.args, ...mockEngineProfileArgs],
  versionArgs: [...mock.args, "--version"]
})

const demo = PoolId.make("demo")

const program = Effect.gen(function*() {
  const pools = yield* PoolManager
  yield* pools.register(new PoolSpec({ id: demo, engine: "mock", model: "tiny-llama", slots: 2, preload: false }))
  const handoff = yield* pools.preload(demo)
  yield* Console.log(`pool ${handoff.poolId} is Ready at ${handoff.url} (pid ${handoff.pid}, ${handoff.engineVersion})`)

  // a lease holds one slot until its scope closes
  yield* Effect.scoped(Effect.gen(function*() {
    const lease = yield* pools.lease(demo)
    const status = yield* pools.status(demo)
    yield* Console.log(`leased a slot: ${status.activeLeases} active, ${status.slotsFree} free`)
    const client = yield* HttpClient.HttpClient
    const response = yield* client.post(`${lease.url}/completion`, {
      body: HttpBody.unsafeJson({ prompt: "Hello", n_predict: 8, stream: false })
    })
    const body = yield* response.json
    yield* Console.log("completion:", JSON.stringify(body).slice(0, 200))
  }))
  yield* Console.log(`released: ${(yield* pools.status(demo)).slotsFree} slots free; stopping`)
})

const stateDir = NodePath.join(NodeOs.tmpdir(), "llama-orch-example-embedded-pool")

program.pipe(
  Effect.provide(EmbeddedPoolManager.layer({ profiles: [mockProfile], stateDir, stopGraceMs: 5_000 })),
  Effect.provide(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)),
  NodeRuntime.runMain
)
