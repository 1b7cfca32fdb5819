/**
 * The wire shapes of orchestratord's HTTP API that are not already domain schemas of
 * orchestrator-core: snake_case on the wire, camelCase in TypeScript.
 *
 * @since 0.1.0
 */
import { ErrorEnvelope } from "@llama-orch/orchestrator-core"
import { ModelState, ReloadStrategy } from "@llama-orch/pool-core"
import * as Schema from "effect/Schema"

const key = <K extends string>(k: K) => Schema.fromKey(k)

/**
 * The answer of `POST /v2/tasks`.
 *
 * @since 0.1.0
 */
export class TaskAccepted extends Schema.Class<TaskAccepted>("TaskAccepted")({
  taskId: Schema.propertySignature(Schema.String).pipe(key("task_id")),
  queuePosition: Schema.propertySignature(Schema.Int).pipe(key("queue_position")),
  predictedStartMs: Schema.propertySignature(Schema.Number).pipe(key("predicted_start_ms")),
  backoffMs: Schema.propertySignature(Schema.Number).pipe(key("backoff_ms")),
  streams: Schema.Struct({ sse: Schema.String })
}) {}

/**
 * The last error of a pool, on the wire.
 *
 * @since 0.1.0
 */
export class PoolLastError extends Schema.Class<PoolLastError>("PoolLastError")({
  kind: Schema.String,
  message: Schema.String,
  exitCode: Schema.optional(Schema.Int).pipe(key("exit_code")),
  stderrTail: Schema.optional(Schema.String).pipe(key("stderr_tail")),
  at: Schema.String
}) {}

/**
 * Slot and queue counters of a pool.
 *
 * @since 0.1.0
 */
export class PoolCounters extends Schema.Class<PoolCounters>("PoolCounters")({
  activeLeases: Schema.propertySignature(Schema.Int).pipe(key("active_leases")),
  slotsTotal: Schema.propertySignature(Schema.Int).pipe(key("slots_total")),
  slotsFree: Schema.propertySignature(Schema.Int).pipe(key("slots_free")),
  queueDepth: Schema.propertySignature(Schema.Int).pipe(key("queue_depth"))
}) {}

/**
 * The answer of `GET /v2/pools/{id}/health`.
 *
 * @since 0.1.0
 */
export class PoolHealth extends Schema.Class<PoolHealth>("PoolHealth")({
  poolId: Schema.propertySignature(Schema.String).pipe(key("pool_id")),
  live: Schema.Boolean,
  ready: Schema.Boolean,
  draining: Schema.Boolean,
  state: Schema.String,
  metrics: PoolCounters,
  lastError: Schema.optional(PoolLastError).pipe(key("last_error"))
}) {}

/**
 * One pool in `GET /v2/pools`.
 *
 * @since 0.1.0
 */
export class PoolSummary extends Schema.Class<PoolSummary>("PoolSummary")({
  poolId: Schema.propertySignature(Schema.String).pipe(key("pool_id")),
  state: Schema.String,
  live: Schema.Boolean,
  ready: Schema.Boolean,
  draining: Schema.Boolean,
  engine: Schema.String,
  engineVersion: Schema.optional(Schema.String).pipe(key("engine_version")),
  model: Schema.String,
  ctxMax: Schema.propertySignature(Schema.Int).pipe(key("ctx_max")),
  generation: Schema.Int,
  restarts: Schema.Int,
  metrics: PoolCounters,
  lastError: Schema.optional(PoolLastError).pipe(key("last_error")),
  /** The node (pool-managerd) of a cluster the pool runs on. */
  node: Schema.optional(Schema.String),
  /** Whether that node answers: `unreachable` pools take no task until it does. */
  nodeState: Schema.optional(Schema.Literal("reachable", "unreachable")).pipe(key("node_state")),
  /** An engine loading for the pool, with its progress. */
  loading: Schema.optional(Schema.Struct({
    elapsedMs: Schema.propertySignature(Schema.Int).pipe(key("elapsed_ms")),
    expectedMs: Schema.optional(Schema.Int).pipe(key("expected_ms")),
    fraction: Schema.optional(Schema.Number),
    progress: Schema.optional(Schema.String)
  }))
}) {}

/**
 * The answer of `GET /v2/pools`.
 *
 * @since 0.1.0
 */
export class PoolList extends Schema.Class<PoolList>("PoolList")({
  pools: Schema.Array(PoolSummary)
}) {}

/**
 * The body of `POST /v2/pools/{id}/drain`.
 *
 * @since 0.1.0
 */
export class DrainRequest extends Schema.Class<DrainRequest>("DrainRequest")({
  deadlineMs: Schema.propertySignature(Schema.Int.pipe(Schema.between(0, 3_600_000))).pipe(key("deadline_ms"))
}) {}

/**
 * The answer of `POST /v2/pools/{id}/drain` (202): draining has begun.
 *
 * @since 0.1.0
 */
export class DrainAccepted extends Schema.Class<DrainAccepted>("DrainAccepted")({
  poolId: Schema.propertySignature(Schema.String).pipe(key("pool_id")),
  draining: Schema.Boolean,
  deadlineMs: Schema.propertySignature(Schema.Int).pipe(key("deadline_ms"))
}) {}

/**
 * The body of `POST /v2/pools/{id}/reload`.
 *
 * @since 0.1.0
 */
export class ReloadRequest extends Schema.Class<ReloadRequest>("ReloadRequest")({
  modelRef: Schema.propertySignature(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(512))).pipe(
    key("model_ref")
  ),
  strategy: Schema.optional(ReloadStrategy),
  deadlineMs: Schema.optional(Schema.Int.pipe(Schema.between(0, 3_600_000))).pipe(key("deadline_ms"))
}) {}

/**
 * The answer of a successful reload.
 *
 * @since 0.1.0
 */
export class ReloadResult extends Schema.Class<ReloadResult>("ReloadResult")({
  poolId: Schema.propertySignature(Schema.String).pipe(key("pool_id")),
  strategy: ReloadStrategy,
  fromModel: Schema.propertySignature(Schema.String).pipe(key("from_model")),
  toModel: Schema.propertySignature(Schema.String).pipe(key("to_model")),
  durationMs: Schema.propertySignature(Schema.Number).pipe(key("duration_ms")),
  generation: Schema.Int
}) {}

/**
 * The answer of a successful preload: the pool is Ready.
 *
 * @since 0.1.0
 */
export class PreloadResult extends Schema.Class<PreloadResult>("PreloadResult")({
  poolId: Schema.propertySignature(Schema.String).pipe(key("pool_id")),
  engine: Schema.String,
  engineVersion: Schema.propertySignature(Schema.String).pipe(key("engine_version")),
  model: Schema.String,
  generation: Schema.Int,
  url: Schema.String
}) {}

/**
 * The error body of a failed reload or preload: the usual envelope plus `rolled_back`.
 *
 * @since 0.1.0
 */
export class PoolOperationFailed extends Schema.Class<PoolOperationFailed>("PoolOperationFailed")({
  ...ErrorEnvelope.fields,
  rolledBack: Schema.optional(Schema.Boolean).pipe(key("rolled_back")),
  stderrTail: Schema.optional(Schema.String).pipe(key("stderr_tail"))
}) {}

/**
 * What one pool offers, in `GET /v2/meta/capabilities`.
 *
 * @since 0.1.0
 */
export class PoolCapabilities extends Schema.Class<PoolCapabilities>("PoolCapabilities")({
  poolId: Schema.propertySignature(Schema.String).pipe(key("pool_id")),
  engine: Schema.String,
  engineVersion: Schema.optional(Schema.String).pipe(key("engine_version")),
  model: Schema.String,
  ctxMax: Schema.propertySignature(Schema.Int).pipe(key("ctx_max")),
  maxTokensOut: Schema.propertySignature(Schema.Int).pipe(key("max_tokens_out")),
  slots: Schema.Int,
  workloads: Schema.Array(Schema.String)
}) {}

/**
 * A model the pool manager can serve, loaded or not: an entry of the capabilities' `models`, and
 * the answer of `POST /v2/models/{id}/load` and `/unload`. `state` is `unloaded`, `loading`,
 * `loaded` or `evicting`; `pool_id` the pool serving it while loaded; `footprint_mb` the memory
 * it takes, `footprint_source` whether declared, estimated or learned; `last_used_at` an ISO time.
 *
 * @since 0.1.0
 */
export class ModelSummary extends Schema.Class<ModelSummary>("ModelSummary")({
  id: Schema.String,
  aliases: Schema.Array(Schema.String),
  engine: Schema.String,
  state: ModelState,
  poolId: Schema.optional(Schema.String).pipe(key("pool_id")),
  node: Schema.optional(Schema.String),
  device: Schema.optional(Schema.String),
  footprintMb: Schema.optional(Schema.Number).pipe(key("footprint_mb")),
  footprintSource: Schema.optional(Schema.String).pipe(key("footprint_source")),
  lastUsedAt: Schema.optional(Schema.String).pipe(key("last_used_at")),
  loads: Schema.Int
}) {}

/**
 * The answer of `GET /v2/meta/capabilities`: the API version, what each pool offers, and every
 * model the pool manager can serve with its state.
 *
 * @since 0.1.0
 */
export class Capabilities extends Schema.Class<Capabilities>("Capabilities")({
  apiVersion: Schema.propertySignature(Schema.String).pipe(key("api_version")),
  pools: Schema.Array(PoolCapabilities),
  models: Schema.Array(ModelSummary)
}) {}

/**
 * The answer of `GET /health` and `GET /ready`.
 *
 * @since 0.1.0
 */
export class Liveness extends Schema.Class<Liveness>("Liveness")({
  status: Schema.Literal("ok", "ready", "unready"),
  pools: Schema.optional(Schema.Int),
  readyPools: Schema.optional(Schema.Int).pipe(key("ready_pools"))
}) {}
