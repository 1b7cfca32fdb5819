/**
 * The pool metrics of a daemon running pools (pool-managerd, orchestratord with embedded pools), exposed at `GET /metrics` in the Prometheus text format:
 * gauges set from `PoolManager.list` at each scrape, and the restart counter and the preload
 * histogram (in seconds) moved by pool events when they happen, there at zero from the first sight
 * of a pool. Every name starts with `pool_managerd_pool_`; every series is labelled with `pool_id`
 * and `engine`, whichever daemon exposes them.
 *
 * @since 0.1.0
 */
import type * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as PrometheusMetrics from "@llama-orch/daemon-kit/PrometheusMetrics"
import { PoolManager, PoolState, type PoolStatus } from "@llama-orch/pool-core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as Ref from "effect/Ref"

const ready = Metric.gauge("pool_managerd_pool_ready", { description: "1 when the pool is Ready, else 0." })
const slots = Metric.gauge("pool_managerd_pool_slots", { description: "Slots of the pool." })
const slotsFree = Metric.gauge("pool_managerd_pool_slots_free", { description: "Slots of the pool not leased." })
const activeLeases = Metric.gauge("pool_managerd_pool_active_leases", { description: "Leases currently held." })
const state = Metric.gauge("pool_managerd_pool_state", {
  description: "1 for the pool's current state, 0 for the others."
})
const restarts = Metric.counter("pool_managerd_pool_restarts_total", {
  description: "Supervised restarts of the pool's engine.",
  incremental: true
})
// 50 ms to about 7 min, doubling
const preloadDuration = Metric.histogram(
  "pool_managerd_pool_preload_duration_seconds",
  MetricBoundaries.fromIterable(Array.from({ length: 14 }, (_, i) => 0.05 * 2 ** i)),
  "Seconds from Starting to Ready."
)

const states: ReadonlyArray<PoolState> = PoolState.literals

interface Labels {
  readonly poolId: string
  readonly engine: string
}

const tagged = <T, I, O>(metric: Metric.Metric<T, I, O>, labels: Labels) =>
  metric.pipe(Metric.tagged("pool_id", labels.poolId), Metric.tagged("engine", labels.engine))

const setGauges = (status: PoolStatus | undefined, labels: Labels): Effect.Effect<void> =>
  Effect.all([
    Metric.set(tagged(ready, labels), status?.ready === true ? 1 : 0),
    Metric.set(tagged(slots, labels), status?.slotsTotal ?? 0),
    Metric.set(tagged(slotsFree, labels), status?.slotsFree ?? 0),
    Metric.set(tagged(activeLeases, labels), status?.activeLeases ?? 0),
    Effect.forEach(states, (s) =>
      Metric.set(tagged(state, labels).pipe(Metric.tagged("state", s)), status?.state === s ? 1 : 0))
  ], { discard: true })

interface Seen {
  readonly state: PoolState
  readonly restarts: number
  readonly startingAt: number | undefined
}

/**
 * Follows pool events: counts restarts when a pool's restart count grows, and records the time from
 * entering `Starting` to `Ready`.
 *
 * @category utils
 * @since 0.1.0
 */
export const trackEvents: Effect.Effect<void, never, PoolManager> = Effect.gen(function*() {
  const manager = yield* PoolManager
  const clock = yield* Effect.clock
  // owned by this one watch
  const seen = new Map<string, Seen>()
  // synchronous: the manager calls it in the step that makes the change
  const observe = (status: PoolStatus, baseline: boolean): void => {
    const before = seen.get(status.poolId)
    // most events are leases taken and given back: nothing here changes, and nothing is done
    if (!baseline && before !== undefined && before.state === status.state && before.restarts === status.restarts) {
      return
    }
    const now = clock.unsafeCurrentTimeMillis()
    const labels = { poolId: status.poolId, engine: status.engine }
    const entering = (s: PoolState) => status.state === s && before?.state !== s
    if (before === undefined) {
      // the counter and the histogram are there at zero from the first sight of the pool
      tagged(restarts, labels).unsafeValue([])
      tagged(preloadDuration, labels).unsafeValue([])
    }
    if (!baseline && before !== undefined && status.restarts > before.restarts) {
      tagged(restarts, labels).unsafeUpdate(status.restarts - before.restarts, [])
    }
    const startingAt = entering("Starting") ? now : status.state === "Starting" ? before?.startingAt : undefined
    if (!baseline && entering("Ready") && before?.startingAt !== undefined) {
      tagged(preloadDuration, labels).unsafeUpdate((now - before.startingAt) / 1000, [])
    }
    seen.set(status.poolId, {
      state: status.state,
      restarts: status.restarts,
      startingAt: startingAt ?? (status.state === "Ready" ? undefined : before?.startingAt)
    })
  }
  yield* manager.watch((event) => {
    if (event._tag === "Snapshot") { for (const status of event.pools) observe(status, true) }
    else observe(event.status, false)
  }).pipe(
    Effect.catchAllCause((cause) => Effect.logWarning("Pool metrics stopped following pool events.", cause))
  )
})

/**
 * Sets the gauges from the current pool list; pools that were removed since the last scrape get 0.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeUpdateGauges: Effect.Effect<Effect.Effect<void>, never, PoolManager> = Effect.gen(function*() {
  const manager = yield* PoolManager
  const known = yield* Ref.make(new Map<string, Labels>())
  return Effect.gen(function*() {
    const pools = yield* Effect.orElseSucceed(manager.list, () => [])
    const current = new Map<string, Labels>(pools.map((p) => [p.poolId, { poolId: p.poolId, engine: p.engine }]))
    const previous = yield* Ref.getAndSet(known, current)
    yield* Effect.forEach(pools, (status) => setGauges(status, { poolId: status.poolId, engine: status.engine }), {
      discard: true
    })
    yield* Effect.forEach(
      [...previous.values()].filter((labels) => !current.has(labels.poolId)),
      (labels) => setGauges(undefined, labels),
      { discard: true }
    )
  })
})

/**
 * `GET /metrics` with the pool metrics (and every other Effect metric of the process), and the
 * event follower that moves the counters.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<never, never, HttpLayerRouter.HttpRouter | PoolManager> = Layer.unwrapScoped(
  Effect.gen(function*() {
    yield* Effect.forkScoped(trackEvents)
    const updateGauges = yield* makeUpdateGauges
    return PrometheusMetrics.route({ beforeScrape: updateGauges })
  })
)
