/**
 * Watches the pools of a remote pool-managerd:
 *
 *   POOL_MANAGERD_URL=http://gpu-host:9200 POOL_MANAGERD_TOKEN=… pnpm --filter @llama-orch/example-remote-watch start
 *
 * Without POOL_MANAGERD_URL it starts a local demo daemon, registers a mock pool, takes a lease and
 * drains the pool while watching, then exits.
 */
import { NodeContext, NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { PoolClient } from "@llama-orch/pool-client"
import { DrainOptions, PoolId, PoolManager, PoolSpec } from "@llama-orch/pool-core"
import { Console, Effect, Layer, Redacted, Schema, Stream } from "effect"
import { startDemoDaemon } from "./demoDaemon.js"
import { watchLines } from "./watch.js"

const remote = (url: string, token: Redacted.Redacted<string> | undefined) =>
  PoolClient.layer({ url, token }).pipe(Layer.provide(NodeHttpClient.layerUndici))

const watchForever = Stream.runForEach(watchLines, Console.log)

const demo = Effect.gen(function*() {
  const token = Redacted.make("demo-token")
  const daemon = yield* startDemoDaemon(token)
  yield* Console.log(`started a demo pool-managerd at ${daemon.url}`)
  yield* Effect.gen(function*() {
    const pools = yield* PoolManager
    const poolId = Schema.decodeSync(PoolId)("demo")
    yield* Effect.forkScoped(watchForever)
    yield* pools.register(Schema.decodeUnknownSync(PoolSpec)({ id: "demo", engine: "mock", model: "tiny", slots: 2 }))
    yield* pools.preload(poolId)
    yield* Effect.scoped(pools.lease(poolId))
    yield* pools.drain(poolId, new DrainOptions({ deadlineMs: 5_000 }))
    yield* Effect.sleep("500 millis") // let the last events print
  }).pipe(Effect.provide(remote(daemon.url, token)))
})

const url = process.env["POOL_MANAGERD_URL"]
const token = process.env["POOL_MANAGERD_TOKEN"]
const program = url === undefined
  ? Effect.scoped(demo)
  : watchForever.pipe(Effect.provide(remote(url, token === undefined ? undefined : Redacted.make(token))))

NodeRuntime.runMain(program.pipe(Effect.provide(NodeContext.layer)))
