/**
 * The orchestrator's metrics as Effect `Metric`s, named as the daemon exposes them. Counters move
 * only when the event happens. Labels: `priority` on admission counters, `pool_id` and `engine` on
 * dispatch counters and latencies, `model` on `queue_depth`, `reason` on rejections and `policy`
 * on backpressure events.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"

const latencyBoundaries = MetricBoundaries.exponential({ start: 1, factor: 2, count: 18 })

/**
 * Tasks admitted into a queue (label `priority`).
 *
 * @since 0.1.0
 */
export const tasksEnqueued = Metric.counter("tasks_enqueued_total", { description: "tasks admitted into a queue" })

/**
 * Tasks dispatched to a pool (labels `pool_id`, `engine`, `priority`).
 *
 * @since 0.1.0
 */
export const tasksStarted = Metric.counter("tasks_started_total", { description: "tasks dispatched to a pool" })

/**
 * Tasks cancelled by their client (label `priority`).
 *
 * @since 0.1.0
 */
export const tasksCanceled = Metric.counter("tasks_canceled_total", { description: "tasks cancelled by a client" })

/**
 * Tasks refused at admission (label `reason`: the error code).
 *
 * @since 0.1.0
 */
export const tasksRejected = Metric.counter("tasks_rejected_total", { description: "tasks refused at admission" })

/**
 * Tasks waiting, per model (label `model`).
 *
 * @since 0.1.0
 */
export const queueDepth = Metric.gauge("queue_depth", { description: "tasks waiting in a model's queue" })

/**
 * Prompt tokens of finished tasks (labels `pool_id`, `engine`).
 *
 * @since 0.1.0
 */
export const tokensIn = Metric.counter("tokens_in_total", { description: "prompt tokens of finished tasks" })

/**
 * Generated tokens streamed to clients (labels `pool_id`, `engine`).
 *
 * @since 0.1.0
 */
export const tokensOut = Metric.counter("tokens_out_total", { description: "generated tokens streamed to clients" })

/**
 * Milliseconds from admission to the first token (labels `pool_id`, `engine`).
 *
 * @since 0.1.0
 */
export const latencyFirstToken = Metric.histogram(
  "latency_first_token_ms",
  latencyBoundaries,
  "milliseconds from admission to the first token"
)

/**
 * Milliseconds from dispatch to the end of decoding (labels `pool_id`, `engine`).
 *
 * @since 0.1.0
 */
export const latencyDecode = Metric.histogram(
  "latency_decode_ms",
  latencyBoundaries,
  "milliseconds from dispatch to the end of decoding"
)

/**
 * Full-queue events: a refusal or an eviction (label `policy`).
 *
 * @since 0.1.0
 */
export const admissionBackpressure = Metric.counter("admission_backpressure_events_total", {
  description: "full-queue refusals and evictions"
})
