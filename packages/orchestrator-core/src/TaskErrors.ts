/**
 * The orchestrator's error codes, the wire envelope that carries them, and the typed errors of
 * `submit`, `events`, `cancel` and `get`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Every error code of the API. `QUEUE_FULL_DROP_LRU`, `DECODE_TIMEOUT`, `WORKER_RESET` and
 * `CANCELLED` only appear in a task's stream; `MODEL_LOAD_FAILED` ends the tasks waiting for an
 * on-demand load that failed, and answers the control plane's model loads.
 *
 * @category schemas
 * @since 0.1.0
 */
export const ErrorCode = Schema.Literal(
  "INVALID_PARAMS",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "UNSUPPORTED_MEDIA_TYPE",
  "NOT_FOUND",
  "MODEL_NOT_FOUND",
  "ADMISSION_REJECT",
  "QUEUE_FULL_DROP_LRU",
  "BUDGET_EXCEEDED",
  "POOL_UNREADY",
  "POOL_UNAVAILABLE",
  "MODEL_LOAD_FAILED",
  "DECODE_TIMEOUT",
  "WORKER_RESET",
  "CANCELLED",
  "INTERNAL"
)

/**
 * A value of the `ErrorCode` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type ErrorCode = typeof ErrorCode.Type

/**
 * The error body of the API (snake_case on the wire).
 *
 * @category models
 * @since 0.1.0
 */
export class ErrorEnvelope extends Schema.Class<ErrorEnvelope>("ErrorEnvelope")({
  code: ErrorCode,
  message: Schema.String,
  retriable: Schema.Boolean,
  retryAfterMs: Schema.optional(Schema.Number).pipe(Schema.fromKey("retry_after_ms")),
  policyLabel: Schema.optional(Schema.String).pipe(Schema.fromKey("policy_label")),
  poolId: Schema.optional(Schema.String).pipe(Schema.fromKey("pool_id")),
  engine: Schema.optional(Schema.String)
}) {}

/**
 * The request is not valid: schema, context length, budget or pin.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidParams extends Schema.TaggedError<InvalidParams>()("InvalidParams", {
  reason: Schema.String,
  field: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return this.field === undefined ? this.reason : `${this.field}: ${this.reason}`
  }
}

/**
 * No pool serves the requested model.
 *
 * @category errors
 * @since 0.1.0
 */
export class ModelNotFound extends Schema.TaggedError<ModelNotFound>()("ModelNotFound", {
  model: Schema.String
}) {
  override get message(): string {
    return `no pool serves model ${this.model}`
  }
}

/**
 * The model's queue is full under the `reject` policy (or a batch task met `shed-low-priority`).
 *
 * @category errors
 * @since 0.1.0
 */
export class AdmissionRejected extends Schema.TaggedError<AdmissionRejected>()("AdmissionRejected", {
  model: Schema.String,
  policy: Schema.String,
  queueDepth: Schema.Int,
  retryAfterMs: Schema.Number
}) {
  override get message(): string {
    return `queue for model ${this.model} is full (${this.queueDepth} queued, policy ${this.policy})`
  }
}

/**
 * The session's token budget is spent.
 *
 * @category errors
 * @since 0.1.0
 */
export class BudgetExceeded extends Schema.TaggedError<BudgetExceeded>()("BudgetExceeded", {
  sessionId: Schema.String,
  budget: Schema.Int,
  used: Schema.Int,
  retryAfterMs: Schema.Number
}) {
  override get message(): string {
    return `session ${this.sessionId} has used ${this.used} of its ${this.budget} token budget`
  }
}

/**
 * The pinned pool is not Ready, or no pool serving the model is Ready or starting. `failed` when
 * every one of them is `Failed`: its restart circuit is open and it stays down until an operator
 * preloads or reloads it, so retrying does not help.
 *
 * @category errors
 * @since 0.1.0
 */
export class NoReadyPool extends Schema.TaggedError<NoReadyPool>()("NoReadyPool", {
  model: Schema.String,
  poolId: Schema.optional(Schema.String),
  retryAfterMs: Schema.Number,
  failed: Schema.optional(Schema.Boolean)
}) {
  override get message(): string {
    const what = this.poolId === undefined
      ? `no pool serving model ${this.model} is ready`
      : `pool ${this.poolId} is not ready`
    return this.failed === true
      ? `${what}: it failed and its restart circuit is open; it stays down until an operator preloads or reloads it`
      : what
  }
}

/**
 * A model the pool manager loads on demand did not load: its engine failed to start, it does not
 * fit in device memory now (`retryAfterMs` set: retry), or it did not load within
 * `maxLoadWaitMs`. Queued tasks meet the same as a `failed` event with `MODEL_LOAD_FAILED`.
 *
 * @category errors
 * @since 0.1.0
 */
export class ModelLoadFailed extends Schema.TaggedError<ModelLoadFailed>()("ModelLoadFailed", {
  model: Schema.String,
  reason: Schema.String,
  retryAfterMs: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    return this.reason
  }
}

/**
 * The pool manager cannot be reached.
 *
 * @category errors
 * @since 0.1.0
 */
export class PoolsUnavailable extends Schema.TaggedError<PoolsUnavailable>()("PoolsUnavailable", {
  reason: Schema.String,
  retryAfterMs: Schema.Number
}) {
  override get message(): string {
    return `pool manager unavailable: ${this.reason}`
  }
}

/**
 * No task with this id is known (never existed, or no longer retained).
 *
 * @category errors
 * @since 0.1.0
 */
export class TaskNotFound extends Schema.TaggedError<TaskNotFound>()("TaskNotFound", {
  taskId: Schema.String
}) {
  override get message(): string {
    return `task ${this.taskId} not found`
  }
}

/**
 * The errors `submit` can fail with.
 *
 * @category models
 * @since 0.1.0
 */
export type SubmitError =
  | InvalidParams
  | ModelNotFound
  | AdmissionRejected
  | BudgetExceeded
  | NoReadyPool
  | PoolsUnavailable
