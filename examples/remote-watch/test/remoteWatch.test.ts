import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { PoolClient } from "@llama-orch/pool-client"
import { PoolId, PoolManager, PoolSpec } from "@llama-orch/pool-core"
import { Chunk, Deferred, Effect, Layer, Redacted, Schema, Stream } from "effect"
import { startDemoDaemon } from "../src/demoDaemon.js"
import { watchLines } from "../src/watch.js"

describe("remote-watch", () => {
  it.scopedLive(
    "prints a snapshot, then every change of a remote pool until it is Ready",
    () =>
      Effect.gen(function*() {
        const token = Redacted.make("watch-test-token")
        const daemon = yield* startDemoDaemon(token)
        const lines = yield* Effect.gen(function*() {
          const pools = yield* PoolManager
          const watching = yield* Deferred.make<void>()
          const fiber = yield* watchLines.pipe(
            Stream.tap((line) => line.startsWith("snapshot") ? Deferred.succeed(watching, undefined) : Effect.void),
            Stream.takeUntil((line) => line.startsWith("w1 Ready")),
            Stream.runCollect,
            Effect.fork
          )
          yield* Deferred.await(watching)
          yield* pools.register(Schema.decodeUnknownSync(PoolSpec)({ id: "w1", engine: "mock", model: "tiny" }))
          yield* pools.preload(Schema.decodeSync(PoolId)("w1"))
          return Chunk.toReadonlyArray(yield* fiber.await.pipe(Effect.flatten))
        }).pipe(
          Effect.provide(PoolClient.layer({ url: daemon.url, token }).pipe(Layer.provide(NodeHttpClient.layerUndici)))
        )
        expect(lines[0]).toBe("snapshot: (no pools)")
        expect(lines.some((l) => l.startsWith("w1 Registered") || l.startsWith("w1 Starting"))).toBe(true)
        expect(lines[lines.length - 1]).toMatch(/^w1 Ready model=tiny slots=1\/1/)
      }).pipe(Effect.provide(NodeContext.layer)),
    180_000
  )
})
