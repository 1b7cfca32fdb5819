/**
 * One test file, two layers: the pattern to copy. The assertions are written against the
 * `PoolManager` tag; each layer gets the same suite.
 */
import { describe, expect, layer } from "@effect/vitest"
import {
  EngineNotAllowed,
  Lease,
  PoolAlreadyExists,
  PoolId,
  PoolManager,
  PoolNotFound,
  PoolSpec,
  SlotsExhausted,
  Snapshot
} from "@llama-orch/pool-core"
import { Effect, type Layer, Option, Schema, Stream } from "effect"
import { embedded, remoteToLocalServer } from "../src/layers.js"
import { servePool } from "../src/program.js"

const spec = (id: string, engine = "mock") =>
  Schema.decodeUnknownSync(PoolSpec)({ id, engine, model: "tiny", slots: 1, preload: false })

const suite = <E>(name: string, managerLayer: Layer.Layer<PoolManager, E>) =>
  layer(managerLayer, { excludeTestServices: true, timeout: "120 seconds" })(name, (it) => {
    it.effect("the program runs unchanged", () =>
      Effect.gen(function*() {
        const result = yield* servePool("swap-program")
        expect(result.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+/)
        expect(result.leasedModel).toBe("tiny")
      }), 180_000)

    it.effect("typed errors are the same classes", () =>
      Effect.gen(function*() {
        const pools = yield* PoolManager
        yield* pools.register(spec("swap-errors"))
        expect(yield* Effect.flip(pools.register(spec("swap-errors")))).toBeInstanceOf(PoolAlreadyExists)
        expect(yield* Effect.flip(pools.register(spec("swap-other", "nope")))).toBeInstanceOf(EngineNotAllowed)
        expect(yield* Effect.flip(pools.status(Schema.decodeSync(PoolId)("swap-missing")))).toBeInstanceOf(PoolNotFound)
        yield* pools.remove(Schema.decodeSync(PoolId)("swap-errors"))
      }), 180_000)

    it.effect("a lease holds its slot while its scope is open", () =>
      Effect.gen(function*() {
        const pools = yield* PoolManager
        const poolId = Schema.decodeSync(PoolId)("swap-lease")
        yield* pools.register(spec("swap-lease"))
        yield* pools.preload(poolId)
        yield* Effect.scoped(Effect.gen(function*() {
          expect(yield* pools.lease(poolId)).toBeInstanceOf(Lease)
          expect(yield* Effect.flip(Effect.scoped(pools.lease(poolId)))).toBeInstanceOf(SlotsExhausted)
        }))
        yield* pools.remove(poolId)
      }), 180_000)

    it.effect("events start with a Snapshot", () =>
      Effect.gen(function*() {
        const pools = yield* PoolManager
        const first = yield* Stream.runHead(pools.events)
        expect(Option.getOrThrow(first)).toBeInstanceOf(Snapshot)
      }), 180_000)
  })

describe("swap layers", () => {
  suite("embedded", embedded)
  suite("remote over RPC", remoteToLocalServer)
})
