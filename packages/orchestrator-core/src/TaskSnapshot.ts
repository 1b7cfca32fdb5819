/**
 * What `submit` answers and what `get` reports of a task.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { Priority } from "./TaskRequest.js"

/**
 * What `submit` answers: the task id and where it stands.
 *
 * @category models
 * @since 0.1.0
 */
export class Admission extends Schema.Class<Admission>("Admission")({
  taskId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("task_id")),
  queuePosition: Schema.propertySignature(Schema.Int).pipe(Schema.fromKey("queue_position")),
  predictedStartMs: Schema.propertySignature(Schema.Number).pipe(Schema.fromKey("predicted_start_ms")),
  backoffMs: Schema.propertySignature(Schema.Number).pipe(Schema.fromKey("backoff_ms"))
}) {}

/**
 * Where a task is in its life.
 *
 * @category schemas
 * @since 0.1.0
 */
export const TaskState = Schema.Literal("queued", "running", "completed", "failed", "cancelled")

/**
 * A value of the `TaskState` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type TaskState = typeof TaskState.Type

/**
 * A task's state and counters.
 *
 * @category models
 * @since 0.1.0
 */
export class TaskSnapshot extends Schema.Class<TaskSnapshot>("TaskSnapshot")({
  taskId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("task_id")),
  state: TaskState,
  modelRef: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("model_ref")),
  priority: Priority,
  sessionId: Schema.optional(Schema.String).pipe(Schema.fromKey("session_id")),
  poolId: Schema.optional(Schema.String).pipe(Schema.fromKey("pool_id")),
  queuePosition: Schema.optional(Schema.Int).pipe(Schema.fromKey("queue_position")),
  tokensIn: Schema.propertySignature(Schema.Int).pipe(Schema.fromKey("tokens_in")),
  tokensOut: Schema.propertySignature(Schema.Int).pipe(Schema.fromKey("tokens_out")),
  errorCode: Schema.optional(Schema.String).pipe(Schema.fromKey("error_code")),
  submittedAt: Schema.propertySignature(Schema.Number).pipe(Schema.fromKey("submitted_at_ms")),
  startedAt: Schema.optional(Schema.Number).pipe(Schema.fromKey("started_at_ms")),
  /** When the first token came (time to first token: this minus `submitted_at_ms`). */
  firstTokenAt: Schema.optional(Schema.Number).pipe(Schema.fromKey("first_token_at_ms")),
  endedAt: Schema.optional(Schema.Number).pipe(Schema.fromKey("ended_at_ms"))
}) {}
