/**
 * The orchestrator's metrics as Effect `Metric`s, named as orchestratord exposes them: every name
 * starts with `orchestratord_`, counters end in `_total`, durations are in seconds. Labels:
 * `priority` on admission counters, `pool_id` and `engine` on dispatch counters and latencies,
 * `model` on `queue_depth`, `reason` on rejections and `policy` on backpressure events.
 *
 * Counters move only when the event happens, and are there at 0 before it: the orchestrator
 * creates the series of every priority, rejection reason and its queue policy when it starts, and
 * those of each pool (with the latency histograms) when it first sees the pool.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type { ErrorCode, SubmitError } from "./TaskErrors.js"

// 1 ms to about 2 min, doubling
const latencyBoundaries = MetricBoundaries.fromIterable(
  Array.from({ length: 18 }, (_, i) => 2 ** i / 1000)
)

/**
 * Tasks admitted into a queue (label `priority`).
 *
 * @category metrics
 * @since 0.1.0
 */
export const tasksEnqueued = Metric.counter("orchestratord_tasks_enqueued_total", {
  description: "Tasks admitted into a queue.",
  incremental: true
})

/**
 * Tasks dispatched to a pool (labels `pool_id`, `engine`, `priority`).
 *
 * @category metrics
 * @since 0.1.0
 */
export const tasksStarted = Metric.counter("orchestratord_tasks_started_total", {
  description: "Tasks dispatched to a pool.",
  incremental: true
})

/**
 * Tasks cancelled by their client (label `priority`).
 *
 * @category metrics
 * @since 0.1.0
 */
export const tasksCanceled = Metric.counter("orchestratord_tasks_canceled_total", {
  description: "Tasks cancelled by their client.",
  incremental: true
})

/**
 * Tasks refused at admission (label `reason`: the error code).
 *
 * @category metrics
 * @since 0.1.0
 */
export const tasksRejected = Metric.counter("orchestratord_tasks_rejected_total", {
  description: "Tasks refused at admission, by error code.",
  incremental: true
})

/**
 * Tasks waiting, per model (label `model`).
 *
 * @category metrics
 * @since 0.1.0
 */
export const queueDepth = Metric.gauge("orchestratord_queue_depth", {
  description: "Tasks waiting in a model's queue."
})

/**
 * Prompt tokens of finished tasks (labels `pool_id`, `engine`).
 *
 * @category metrics
 * @since 0.1.0
 */
export const tokensIn = Metric.counter("orchestratord_tokens_in_total", {
  description: "Prompt tokens of finished tasks.",
  incremental: true
})

/**
 * Generated tokens streamed to clients (labels `pool_id`, `engine`).
 *
 * @category metrics
 * @since 0.1.0
 */
export const tokensOut = Metric.counter("orchestratord_tokens_out_total", {
  description: "Generated tokens streamed to clients.",
  incremental: true
})

/**
 * Seconds from admission to the first token (labels `pool_id`, `engine`).
 *
 * @category metrics
 * @since 0.1.0
 */
export const latencyFirstToken = Metric.histogram(
  "orchestratord_latency_first_token_seconds",
  latencyBoundaries,
  "Seconds from a task's admission to its first token."
)

/**
 * Seconds from dispatch to the end of decoding (labels `pool_id`, `engine`).
 *
 * @category metrics
 * @since 0.1.0
 */
export const latencyDecode = Metric.histogram(
  "orchestratord_latency_decode_seconds",
  latencyBoundaries,
  "Seconds from a task's dispatch to the end of its decoding."
)

/**
 * Whether each node (pool-managerd) of a cluster answers (label `node`), set when `/metrics` is read.
 *
 * @category metrics
 * @since 0.1.0
 */
export const poolManagerUp = Metric.gauge("orchestratord_pool_manager_up", {
  description:
    "Whether a node (pool-managerd) of the cluster answers: 1 reachable, 0 unreachable (its pools take no task)"
})

/**
 * Full-queue events: a refusal or an eviction (label `policy`).
 *
 * @category metrics
 * @since 0.1.0
 */
export const admissionBackpressure = Metric.counter("orchestratord_admission_backpressure_events_total", {
  description: "Full-queue refusals and evictions, by queue policy.",
  incremental: true
})

/**
 * On-demand model loads the orchestrator asked the pool manager for (label `model`), for tasks
 * queued for a model with no Ready pool.
 *
 * @category utils
 * @since 0.1.0
 */
export const modelLoads = Metric.counter("orchestratord_model_loads_total", {
  description: "On-demand model loads asked of the pool manager, for tasks queued for a model no Ready pool serves.",
  incremental: true
})

/**
 * Seconds an on-demand load kept a model's queued tasks waiting, by outcome (labels `model`,
 * `outcome`: loaded, refused, failed, abandoned).
 *
 * @category utils
 * @since 0.1.0
 */
export const modelLoadWait = Metric.histogram(
  "orchestratord_model_load_wait_seconds",
  latencyBoundaries,
  "Seconds an on-demand model load kept the model's queued tasks waiting, by outcome."
)

/**
 * The `reason` label of `tasksRejected` for each error `submit` fails with: its error code.
 *
 * @category utils
 * @since 0.1.0
 */
export const rejectionReasons: { readonly [Tag in SubmitError["_tag"]]: ErrorCode } = {
  InvalidParams: "INVALID_PARAMS",
  ModelNotFound: "MODEL_NOT_FOUND",
  AdmissionRejected: "ADMISSION_REJECT",
  BudgetExceeded: "BUDGET_EXCEEDED",
  NoReadyPool: "POOL_UNREADY",
  PoolsUnavailable: "POOL_UNAVAILABLE"
}
