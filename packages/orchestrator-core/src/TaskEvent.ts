/**
 * Task events, in the order a task's stream emits them: `started`, `metrics` while queued and at
 * dispatch, `token`s, then exactly one of `end` or `error`. Nothing follows `end` or `error`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { ErrorCode } from "./TaskErrors.js"

/**
 * The task was admitted.
 *
 * @since 0.1.0
 */
export class Started extends Schema.TaggedClass<Started>()("started", {
  queuePosition: Schema.propertySignature(Schema.Int).pipe(Schema.fromKey("queue_position")),
  predictedStartMs: Schema.propertySignature(Schema.Number).pipe(Schema.fromKey("predicted_start_ms"))
}) {}

/**
 * Progress while queued and at dispatch.
 *
 * @since 0.1.0
 */
export class Metrics extends Schema.TaggedClass<Metrics>()("metrics", {
  queuePosition: Schema.optional(Schema.Int).pipe(Schema.fromKey("queue_position")),
  queueDepth: Schema.propertySignature(Schema.Int).pipe(Schema.fromKey("queue_depth")),
  onTimeProbability: Schema.optional(Schema.Number).pipe(Schema.fromKey("on_time_probability")),
  poolId: Schema.optional(Schema.String).pipe(Schema.fromKey("pool_id")),
  kvWarmth: Schema.optional(Schema.Boolean).pipe(Schema.fromKey("kv_warmth"))
}) {}

/**
 * One generated token: text `t`, index `i` (0-based, consecutive).
 *
 * @since 0.1.0
 */
export class Token extends Schema.TaggedClass<Token>()("token", {
  t: Schema.String,
  i: Schema.Int
}) {}

/**
 * The task finished.
 *
 * @since 0.1.0
 */
export class End extends Schema.TaggedClass<End>()("end", {
  tokensOut: Schema.propertySignature(Schema.Int).pipe(Schema.fromKey("tokens_out")),
  tokensIn: Schema.propertySignature(Schema.Int).pipe(Schema.fromKey("tokens_in")),
  decodeTimeMs: Schema.propertySignature(Schema.Number).pipe(Schema.fromKey("decode_time_ms")),
  decodeMs: Schema.propertySignature(Schema.Number).pipe(Schema.fromKey("decode_ms"))
}) {}

/**
 * The task failed or was cancelled.
 *
 * @since 0.1.0
 */
export class Failed extends Schema.TaggedClass<Failed>()("error", {
  code: ErrorCode,
  message: Schema.String,
  retriable: Schema.Boolean,
  retryAfterMs: Schema.optional(Schema.Number).pipe(Schema.fromKey("retry_after_ms"))
}) {}

/**
 * Any task event.
 *
 * @since 0.1.0
 */
export const TaskEvent = Schema.Union(Started, Metrics, Token, End, Failed)

/**
 * @since 0.1.0
 */
export type TaskEvent = typeof TaskEvent.Type

/**
 * A task event with its sequence number (`id`, from 1, strictly increasing per task), used for the
 * SSE `id:` field and `Last-Event-ID` resume.
 *
 * @since 0.1.0
 */
export class SequencedEvent extends Schema.Class<SequencedEvent>("SequencedEvent")({
  id: Schema.Int,
  event: TaskEvent
}) {}

/**
 * Whether an event ends the stream.
 *
 * @since 0.1.0
 */
export const isTerminal = (event: TaskEvent): event is End | Failed => event._tag === "end" || event._tag === "error"
