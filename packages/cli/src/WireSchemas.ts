/**
 * What the command line reads from orchestratord's HTTP API, as Schemas of the wire (snake_case, as
 * sent): only the fields it shows. The task events reuse orchestrator-core's event schemas.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Slot and queue counters of a pool.
 *
 * @since 0.1.0
 */
export const PoolCounters = Schema.Struct({
  active_leases: Schema.Int,
  slots_total: Schema.Int,
  slots_free: Schema.Int,
  queue_depth: Schema.Int
})

/**
 * One pool, as `GET /v2/pools` and the pool event stream give it.
 *
 * @since 0.1.0
 */
export const PoolView = Schema.Struct({
  pool_id: Schema.String,
  state: Schema.String,
  ready: Schema.Boolean,
  draining: Schema.Boolean,
  engine: Schema.String,
  model: Schema.String,
  generation: Schema.Int,
  restarts: Schema.Int,
  metrics: PoolCounters,
  last_error: Schema.optional(Schema.Struct({ kind: Schema.String, message: Schema.String })),
  node: Schema.optional(Schema.String),
  node_state: Schema.optional(Schema.String),
  loading: Schema.optional(Schema.Struct({
    elapsed_ms: Schema.Number,
    expected_ms: Schema.optional(Schema.Number),
    fraction: Schema.optional(Schema.Number)
  }))
})

/**
 * @since 0.1.0
 */
export interface PoolView extends Schema.Schema.Type<typeof PoolView> {}

/**
 * The answer of `GET /v2/pools` and the `snapshot` event of `GET /v2/pools/events`.
 *
 * @since 0.1.0
 */
export const PoolList = Schema.Struct({ pools: Schema.Array(PoolView) })

/**
 * The `status` event of `GET /v2/pools/events`: one pool changed, and why.
 *
 * @since 0.1.0
 */
export const PoolStatusEvent = Schema.Struct({ reason: Schema.String, pool: PoolView })

/**
 * The error envelope of every `/v2` error answer (and the `failed` event of a stream).
 *
 * @since 0.1.0
 */
export const ErrorBody = Schema.Struct({
  code: Schema.String,
  message: Schema.String,
  stderr_tail: Schema.optional(Schema.String),
  rolled_back: Schema.optional(Schema.Boolean)
})

/**
 * The error envelope of the OpenAI-compatible routes.
 *
 * @since 0.1.0
 */
export const OpenAiErrorBody = Schema.Struct({
  error: Schema.Struct({ message: Schema.String, code: Schema.NullOr(Schema.String) })
})

/**
 * The answer of `POST /v2/tasks`.
 *
 * @since 0.1.0
 */
export const TaskAccepted = Schema.Struct({
  task_id: Schema.String,
  queue_position: Schema.Int,
  predicted_start_ms: Schema.Number
})

/**
 * The answer of `GET /v2/tasks/{id}`.
 *
 * @since 0.1.0
 */
export const TaskStatus = Schema.Struct({
  task_id: Schema.String,
  state: Schema.String,
  model_ref: Schema.String,
  priority: Schema.String,
  pool_id: Schema.optional(Schema.String),
  queue_position: Schema.optional(Schema.Int),
  tokens_in: Schema.Int,
  tokens_out: Schema.Int,
  error_code: Schema.optional(Schema.String),
  submitted_at_ms: Schema.Number,
  started_at_ms: Schema.optional(Schema.Number),
  first_token_at_ms: Schema.optional(Schema.Number),
  ended_at_ms: Schema.optional(Schema.Number)
})

/**
 * @since 0.1.0
 */
export interface TaskStatus extends Schema.Schema.Type<typeof TaskStatus> {}

/**
 * The `snapshot` event of `GET /v2/activity/events`: the retained tasks, newest first, and the
 * queue depth of each model.
 *
 * @since 0.1.0
 */
export const ActivitySnapshot = Schema.Struct({
  tasks: Schema.Array(TaskStatus),
  queue_depths: Schema.Record({ key: Schema.String, value: Schema.Int })
})

/**
 * The `task` event of `GET /v2/activity/events`: one task changed.
 *
 * @since 0.1.0
 */
export const ActivityTask = Schema.Struct({
  task: TaskStatus,
  queue_depths: Schema.Record({ key: Schema.String, value: Schema.Int })
})

/**
 * One event of `GET /v2/tasks/{id}/events`: the SSE event name is the tag, the `data:` its fields.
 *
 * @since 0.1.0
 */
export const taskEvent = (event: string, data: unknown): unknown =>
  typeof data === "object" && data !== null ? { ...data, _tag: event } : data

/**
 * The answer of `GET /v1/models`.
 *
 * @since 0.1.0
 */
export const ModelList = Schema.Struct({
  data: Schema.Array(Schema.Struct({ id: Schema.String, owned_by: Schema.String, created: Schema.Int }))
})

/**
 * The answer of `POST /v2/pools/{id}/drain` (202).
 *
 * @since 0.1.0
 */
export const DrainAccepted = Schema.Struct({ pool_id: Schema.String, deadline_ms: Schema.Int })

/**
 * The answer of `POST /v2/pools/{id}/preload`: the pool is Ready.
 *
 * @since 0.1.0
 */
export const PreloadResult = Schema.Struct({
  pool_id: Schema.String,
  model: Schema.String,
  generation: Schema.Int,
  url: Schema.String
})

/**
 * The answer of `POST /v2/pools/{id}/reload`.
 *
 * @since 0.1.0
 */
export const ReloadResult = Schema.Struct({
  pool_id: Schema.String,
  strategy: Schema.String,
  from_model: Schema.String,
  to_model: Schema.String,
  duration_ms: Schema.Number,
  generation: Schema.Int
})
