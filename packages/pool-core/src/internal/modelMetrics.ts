/**
 * The catalog's counters, exported in `/metrics` by the daemons: loads and evictions by reason.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"

export const loadsTotal = Metric.counter("pool_managerd_model_loads_total", {
  description: "Loads of catalogued models, by reason (on_demand, preload).",
  incremental: true
})
export const evictionsTotal = Metric.counter("pool_managerd_model_evictions_total", {
  description: "Unloads of catalogued models, by reason (make_room, idle_ttl, unload).",
  incremental: true
})
/** Counts one event of `metric` with label `reason`. */
export const count = (metric: typeof loadsTotal, reason: string) =>
  Metric.increment(Metric.tagged(metric, "reason", reason))

/** Every reason of both counters at zero, so that the series are there before the first load. */
export const initCounters: Effect.Effect<void> = Effect.forEach(
  [
    ...["on_demand", "preload"].map((reason) => [loadsTotal, reason] as const),
    ...["make_room", "idle_ttl", "unload"].map((reason) => [evictionsTotal, reason] as const)
  ],
  ([metric, reason]) => Metric.incrementBy(Metric.tagged(metric, "reason", reason), 0),
  { discard: true }
)
