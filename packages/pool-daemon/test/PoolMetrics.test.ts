import { describe, expect, it } from "@effect/vitest"
import * as PrometheusMetrics from "@llama-orch/daemon-kit/PrometheusMetrics"
import {
  PoolId,
  PoolManager,
  type PoolState,
  PoolStatus,
  Snapshot,
  StatusChanged,
  watchEvents
} from "@llama-orch/pool-core"
import type { PoolEvent } from "@llama-orch/pool-core"
import { PoolMetrics } from "@llama-orch/pool-daemon"
import { Effect, Fiber, Layer, Queue, Stream, TestClock } from "effect"

const status = (poolId: string, state: PoolState, restarts = 0, slotsFree = 2) =>
  PoolStatus.make({
    poolId: PoolId.make(poolId),
    state,
    live: state === "Ready",
    ready: state === "Ready",
    draining: false,
    engine: "mock",
    protocol: "llamacpp",
    model: "m",
    ctxMax: 4096,
    slotsTotal: 2,
    slotsFree,
    activeLeases: 2 - slotsFree,
    generation: 0,
    restarts
  })

const unused = Effect.dieMessage("not used by the metrics")

// A PoolManager whose events and list the test controls.
const fakeManager = (events: Queue.Queue<PoolEvent>, list: () => ReadonlyArray<PoolStatus>) =>
  Layer.succeed(
    PoolManager,
    PoolManager.of({
      register: () => unused,
      remove: () => unused,
      list: Effect.sync(list),
      status: () => unused,
      preload: () => unused,
      drain: () => unused,
      reload: () => unused,
      lease: () => unused,
      events: Stream.fromQueue(events),
      watch: watchEvents(Stream.fromQueue(events)),
      health: unused
    })
  )

const sample = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const render = Effect.flatten(PrometheusMetrics.makeRenderer)

describe("PoolMetrics", () => {
  it.scoped("measures Starting → Ready in seconds on the clock and counts restarts only when they happen", () =>
    Effect.gen(function*() {
      const events = yield* Queue.unbounded<PoolEvent>()
      const id = "metrics-events"
      const labels = `{pool_id="${id}",engine="mock"}`
      const follower = yield* Effect.fork(PoolMetrics.trackEvents.pipe(Effect.provide(fakeManager(events, () => []))))
      // a pool that restarted before the follower started is a baseline, not a new restart
      yield* Queue.offer(events, new Snapshot({ pools: [status(id, "Registered", 3)] }))
      yield* Queue.offer(events, new StatusChanged({ status: status(id, "Starting", 3), reason: "preload" }))
      yield* TestClock.adjust("1500 millis")
      yield* Queue.offer(events, new StatusChanged({ status: status(id, "Ready", 3), reason: "ready" }))
      yield* Effect.yieldNow()
      let text = yield* Effect.repeat(render, {
        until: (t) => sample(t, `pool_managerd_pool_preload_duration_seconds_count${labels}`) === 1
      })
      expect(sample(text, `pool_managerd_pool_preload_duration_seconds_sum${labels}`)).toBe(1.5)
      expect(sample(text, `pool_managerd_pool_preload_duration_seconds_bucket{pool_id="${id}",engine="mock",le="1.6"}`))
        .toBe(1)
      expect(sample(text, `pool_managerd_pool_preload_duration_seconds_bucket{pool_id="${id}",engine="mock",le="0.8"}`))
        .toBe(0)
      // there at 0 from the first sight of the pool, and not moved by the baseline's restarts
      expect(sample(text, `pool_managerd_pool_restarts_total${labels}`)).toBe(0)

      // a lease changes nothing but the gauges
      yield* Queue.offer(events, new StatusChanged({ status: status(id, "Ready", 3, 1), reason: "lease-acquired" }))
      // crash → Backoff → Starting → Ready: one restart, one more preload of 250 ms
      yield* Queue.offer(events, new StatusChanged({ status: status(id, "Backoff", 3), reason: "engine-exited" }))
      yield* TestClock.adjust("1000 millis")
      yield* Queue.offer(events, new StatusChanged({ status: status(id, "Starting", 4), reason: "restart" }))
      yield* TestClock.adjust("250 millis")
      yield* Queue.offer(events, new StatusChanged({ status: status(id, "Ready", 4), reason: "ready" }))
      text = yield* Effect.repeat(render, {
        until: (t) => sample(t, `pool_managerd_pool_preload_duration_seconds_count${labels}`) === 2
      })
      expect(sample(text, `pool_managerd_pool_restarts_total${labels}`)).toBe(1)
      expect(sample(text, `pool_managerd_pool_preload_duration_seconds_sum${labels}`)).toBe(1.75)
      yield* Fiber.interrupt(follower)
    }))

  it.effect("sets the gauges from the pool list at scrape time, and zeroes removed pools", () =>
    Effect.gen(function*() {
      const events = yield* Queue.unbounded<PoolEvent>()
      let pools = [status("metrics-gauge", "Ready", 0, 1)]
      const update = yield* PoolMetrics.makeUpdateGauges.pipe(Effect.provide(fakeManager(events, () => pools)))
      const labels = `{pool_id="metrics-gauge",engine="mock"}`
      yield* update
      let text = yield* render
      expect(sample(text, `pool_managerd_pool_ready${labels}`)).toBe(1)
      expect(sample(text, `pool_managerd_pool_slots${labels}`)).toBe(2)
      expect(sample(text, `pool_managerd_pool_slots_free${labels}`)).toBe(1)
      expect(sample(text, `pool_managerd_pool_active_leases${labels}`)).toBe(1)
      expect(sample(text, `pool_managerd_pool_state{pool_id="metrics-gauge",engine="mock",state="Ready"}`)).toBe(1)
      expect(sample(text, `pool_managerd_pool_state{pool_id="metrics-gauge",engine="mock",state="Draining"}`)).toBe(0)
      pools = []
      yield* update
      text = yield* render
      expect(sample(text, `pool_managerd_pool_ready${labels}`)).toBe(0)
      expect(sample(text, `pool_managerd_pool_slots${labels}`)).toBe(0)
      expect(sample(text, `pool_managerd_pool_state{pool_id="metrics-gauge",engine="mock",state="Ready"}`)).toBe(0)
    }))
})
