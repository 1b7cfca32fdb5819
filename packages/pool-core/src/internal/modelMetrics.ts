/**
 * The catalog's counters, exported in `/metrics` by the daemons: loads and evictions by reason.
 *
 * @internal
 */
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
