/**
 * The program on the third layer: the in-memory `PoolManager` of `@llama-orch/pool-core/testing`.
 * No engine process runs, so the tests run under `it.effect` with the `TestClock`: a slow engine
 * start is a clock step, and an engine failure is one call.
 */
import { describe, expect, it } from "@effect/vitest"
import { PoolId, PoolManager, PoolSpec, PoolUnready } from "@llama-orch/pool-core"
import { InMemoryPoolManager, PoolManagerContract } from "@llama-orch/pool-core/testing"
import { Effect, Fiber, TestClock } from "effect"
import { servePool } from "../src/program.js"

describe("the program on the in-memory PoolManager", () => {
  it.effect("runs unchanged; the engine's two-second start is a TestClock step", () =>
    Effect.gen(function*() {
      const run = yield* Effect.fork(servePool("swap-memory"))
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(run)).toEqual({
        url: "http://127.0.0.1:8080",
        leasedModel: "tiny",
        slotsFreeWhileLeased: 1,
        slotsTotal: 2
      })
    }).pipe(Effect.provide(InMemoryPoolManager.layer({ startupMs: 2_000, engineUrl: "http://127.0.0.1:8080" }))))

  it.effect("a failed engine refuses leases with the typed error a real one gives", () =>
    Effect.gen(function*() {
      const pools = yield* PoolManager
      const control = yield* InMemoryPoolManager.Control
      const poolId = PoolId.make("swap-failing")
      yield* control.fail(poolId, { message: "CUDA error: out of memory", exitCode: 1 })
      const refused = yield* Effect.flip(Effect.scoped(pools.lease(poolId)))
      expect(refused).toEqual(new PoolUnready({ poolId, state: "Failed" }))
      expect((yield* pools.status(poolId)).lastError?.message).toBe("CUDA error: out of memory")
    }).pipe(Effect.provide(InMemoryPoolManager.layer({
      pools: [PoolSpec.make({ id: PoolId.make("swap-failing"), engine: "mock", model: "tiny" })]
    }))))
})

// the in-memory layer keeps the same contract as the embedded and the RPC layers
PoolManagerContract.suite("in-memory", InMemoryPoolManager.layer({ failingModels: ["broken-model"] }), {
  engine: "mock",
  forcedDrainDeadlineMs: 200
})
