import { describe, expect, it } from "@effect/vitest"
import * as PrometheusMetrics from "@llama-orch/daemon-kit/PrometheusMetrics"
import { DrainOptions, PoolId, PoolManager, PoolSpec } from "@llama-orch/pool-core"
import { InMemoryPoolManager } from "@llama-orch/pool-core/testing"
import { PoolMetrics } from "@llama-orch/pool-daemon"
import { Effect, Exit, Fiber, Scope, TestClock } from "effect"

const sample = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const render = Effect.flatten(PrometheusMetrics.makeRenderer)

const spec = (id: string, preload: boolean) =>
  PoolSpec.make({ id: PoolId.make(id), engine: "mock", model: "m", slots: 2, preload })

describe("PoolMetrics", () => {
  it.scoped("measures Starting → Ready in seconds on the clock and counts restarts only when they happen", () =>
    Effect.gen(function*() {
      const manager = yield* PoolManager
      const control = yield* InMemoryPoolManager.Control
      const id = PoolId.make("metrics-events")
      const labels = `{pool_id="${id}",engine="mock"}`
      yield* manager.register(spec(id, false))
      // a pool that restarted before the follower started is a baseline, not a new restart
      yield* control.crash(id, { message: "the engine exited" }, 0)
      yield* TestClock.adjust("1500 millis")
      yield* manager.drain(id, new DrainOptions({ deadlineMs: 0 }))
      expect(yield* manager.status(id)).toMatchObject({ state: "Stopped", restarts: 1 })
      const follower = yield* Effect.fork(PoolMetrics.trackEvents)
      yield* Effect.yieldNow()

      const preload = yield* Effect.fork(manager.preload(id))
      yield* TestClock.adjust("1500 millis")
      yield* Fiber.join(preload)
      let text = yield* render
      expect(sample(text, `pool_managerd_pool_preload_duration_seconds_count${labels}`)).toBe(1)
      expect(sample(text, `pool_managerd_pool_preload_duration_seconds_sum${labels}`)).toBe(1.5)
      expect(sample(text, `pool_managerd_pool_preload_duration_seconds_bucket{pool_id="${id}",engine="mock",le="1.6"}`))
        .toBe(1)
      expect(sample(text, `pool_managerd_pool_preload_duration_seconds_bucket{pool_id="${id}",engine="mock",le="0.8"}`))
        .toBe(0)
      // there at 0 from the first sight of the pool, and not moved by the baseline's restart
      expect(sample(text, `pool_managerd_pool_restarts_total${labels}`)).toBe(0)

      // a lease changes nothing but the gauges
      yield* Effect.scoped(manager.lease(id))
      // crash → Backoff → Starting → Ready: one restart, one more preload of 1500 ms
      yield* control.crash(id, { message: "the engine exited" }, 1_000)
      yield* TestClock.adjust("1000 millis")
      expect((yield* manager.status(id)).state).toBe("Starting")
      yield* TestClock.adjust("1500 millis")
      expect(yield* manager.status(id)).toMatchObject({ state: "Ready", restarts: 2 })
      text = yield* render
      expect(sample(text, `pool_managerd_pool_preload_duration_seconds_count${labels}`)).toBe(2)
      expect(sample(text, `pool_managerd_pool_restarts_total${labels}`)).toBe(1)
      expect(sample(text, `pool_managerd_pool_preload_duration_seconds_sum${labels}`)).toBe(3)
      yield* Fiber.interrupt(follower)
    }).pipe(Effect.provide(InMemoryPoolManager.layer({ startupMs: 1_500 }))))

  it.scoped("sets the gauges from the pool list at scrape time, and zeroes removed pools", () =>
    Effect.gen(function*() {
      const manager = yield* PoolManager
      const id = PoolId.make("metrics-gauge")
      const update = yield* PoolMetrics.makeUpdateGauges
      const labels = `{pool_id="metrics-gauge",engine="mock"}`
      const held = yield* Scope.make()
      yield* Scope.extend(manager.lease(id), held)
      yield* update
      let text = yield* render
      expect(sample(text, `pool_managerd_pool_ready${labels}`)).toBe(1)
      expect(sample(text, `pool_managerd_pool_slots${labels}`)).toBe(2)
      expect(sample(text, `pool_managerd_pool_slots_free${labels}`)).toBe(1)
      expect(sample(text, `pool_managerd_pool_active_leases${labels}`)).toBe(1)
      expect(sample(text, `pool_managerd_pool_state{pool_id="metrics-gauge",engine="mock",state="Ready"}`)).toBe(1)
      expect(sample(text, `pool_managerd_pool_state{pool_id="metrics-gauge",engine="mock",state="Draining"}`)).toBe(0)
      yield* Scope.close(held, Exit.void)
      yield* manager.remove(id)
      yield* update
      text = yield* render
      expect(sample(text, `pool_managerd_pool_ready${labels}`)).toBe(0)
      expect(sample(text, `pool_managerd_pool_slots${labels}`)).toBe(0)
      expect(sample(text, `pool_managerd_pool_state{pool_id="metrics-gauge",engine="mock",state="Ready"}`)).toBe(0)
    }).pipe(Effect.provide(InMemoryPoolManager.layer({ pools: [spec("metrics-gauge", true)] }))))
})
