/**
 * The `Orchestrator` service: admission, queueing, placement, dispatch and token streaming in front
 * of a `PoolManager`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import type { SubmitError, TaskNotFound } from "./TaskErrors.js"
import type { SequencedEvent } from "./TaskEvent.js"
import { Priority, type TaskRequest } from "./TaskRequest.js"

/**
 * What `submit` answers: the task id and where it stands.
 *
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
 * @since 0.1.0
 */
export const TaskState = Schema.Literal("queued", "running", "completed", "failed", "cancelled")

/**
 * @since 0.1.0
 */
export type TaskState = typeof TaskState.Type

/**
 * A task's state and counters.
 *
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
  endedAt: Schema.optional(Schema.Number).pipe(Schema.fromKey("ended_at_ms"))
}) {}

/**
 * The operations of the orchestrator.
 *
 * @since 0.1.0
 */
export interface OrchestratorService {
  /** Admits a task into its model's queue, or fails with a typed reason. */
  readonly submit: (request: TaskRequest) => Effect.Effect<Admission, SubmitError>
  /**
   * The task's events from the first one after `afterId` (0 or absent: from the start), live until
   * the terminal `end` or `error`. Retained 60 s after the task ends.
   */
  readonly events: (
    taskId: string,
    options?: { readonly afterId?: number }
  ) => Stream.Stream<SequencedEvent, TaskNotFound>
  /** Cancels a queued or running task; idempotent. */
  readonly cancel: (taskId: string) => Effect.Effect<void, TaskNotFound>
  /** The task's state and counters. */
  readonly get: (taskId: string) => Effect.Effect<TaskSnapshot, TaskNotFound>
  /** How many tasks wait per model. */
  readonly queueDepths: Effect.Effect<ReadonlyMap<string, number>>
}

/**
 * The orchestrator service tag.
 *
 * @since 0.1.0
 */
export class Orchestrator extends Context.Tag("@llama-orch/orchestrator-core/Orchestrator")<
  Orchestrator,
  OrchestratorService
>() {}
