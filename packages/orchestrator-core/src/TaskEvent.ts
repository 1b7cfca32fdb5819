/**
 * Task events, in the order a task's stream emits them: `started`, `metrics` while queued and at
 * dispatch (and `loading` while its model's engine loads), `token`s, then exactly one of `end` or
 * `failed`. Nothing follows `end` or `failed`.
 *
 * Events are plain tagged structs, told apart by `_tag`: a stream carries one per generated token,
 * and a struct costs a fraction of what a schema class costs to make and to read (about a sixth of
 * orchestratord's CPU per relayed token). Build one with `Token.make({ t, i })` (validated) or as a
 * literal.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { ErrorCode } from "./TaskErrors.js"

/**
 * The task was admitted.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Started = Schema.TaggedStruct("started", {
  queuePosition: Schema.propertySignature(Schema.Int).pipe(Schema.fromKey("queue_position")),
  predictedStartMs: Schema.propertySignature(Schema.Number).pipe(Schema.fromKey("predicted_start_ms"))
})

/**
 * The task was admitted.
 *
 * @category models
 * @since 0.1.0
 */
export interface Started extends Schema.Schema.Type<typeof Started> {}

/**
 * Progress while queued and at dispatch.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Metrics = Schema.TaggedStruct("metrics", {
  queuePosition: Schema.optional(Schema.Int).pipe(Schema.fromKey("queue_position")),
  queueDepth: Schema.propertySignature(Schema.Int).pipe(Schema.fromKey("queue_depth")),
  onTimeProbability: Schema.optional(Schema.Number).pipe(Schema.fromKey("on_time_probability")),
  poolId: Schema.optional(Schema.String).pipe(Schema.fromKey("pool_id")),
  kvWarmth: Schema.optional(Schema.Boolean).pipe(Schema.fromKey("kv_warmth"))
})

/**
 * Progress while queued and at dispatch.
 *
 * @category models
 * @since 0.1.0
 */
export interface Metrics extends Schema.Schema.Type<typeof Metrics> {}

/**
 * The task waits for an engine that is loading its model: how long the load has run, the time
 * left by the last load of that model (`eta_ms`, when known), and the engine's own last progress
 * line. Sent to queued tasks while no pool of the model is Ready, each time the load reports.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Loading = Schema.TaggedStruct("loading", {
  poolId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("pool_id")),
  elapsedMs: Schema.propertySignature(Schema.Int).pipe(Schema.fromKey("elapsed_ms")),
  etaMs: Schema.optional(Schema.Number).pipe(Schema.fromKey("eta_ms")),
  fraction: Schema.optional(Schema.Number),
  progress: Schema.optional(Schema.String)
})

/**
 * The task waits for an engine that is loading its model.
 *
 * @category models
 * @since 0.1.0
 */
export interface Loading extends Schema.Schema.Type<typeof Loading> {}

/**
 * The task's engine failed before its first token (its node died, its engine crashed): the task
 * waits to be placed again, on another pool when one serves its model. It happens at most once;
 * a second failure ends the task with `WORKER_RESET`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Requeued = Schema.TaggedStruct("requeued", {
  poolId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("pool_id")),
  reason: Schema.String
})

/**
 * The task is placed again after its engine failed before its first token.
 *
 * @category models
 * @since 0.1.0
 */
export interface Requeued extends Schema.Schema.Type<typeof Requeued> {}

/**
 * One generated token: text `t`, index `i` (0-based, consecutive). When the engine sends more than
 * text (OpenAI-protocol engines answering `engine_params`: tool-call deltas, log probabilities,
 * reasoning text, several choices), `c` is the choice index (absent: 0) and `x` holds those fields
 * as the engine sent them (`delta` fields other than `content`, `logprobs`, and `finish_reason` of
 * choices other than 0); `t` may then be empty.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Token = Schema.TaggedStruct("token", {
  t: Schema.String,
  i: Schema.Int,
  c: Schema.optional(Schema.Int),
  x: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})

/**
 * One generated token.
 *
 * @category models
 * @since 0.1.0
 */
export interface Token extends Schema.Schema.Type<typeof Token> {}

/**
 * The task finished.
 *
 * @category schemas
 * @since 0.1.0
 */
export const End = Schema.TaggedStruct("end", {
  tokensOut: Schema.propertySignature(Schema.Int).pipe(Schema.fromKey("tokens_out")),
  tokensIn: Schema.propertySignature(Schema.Int).pipe(Schema.fromKey("tokens_in")),
  decodeTimeMs: Schema.propertySignature(Schema.Number).pipe(Schema.fromKey("decode_time_ms")),
  decodeMs: Schema.propertySignature(Schema.Number).pipe(Schema.fromKey("decode_ms")),
  /** Why the engine stopped (`stop`, `length`, `tool_calls`, ...), when it says. */
  finishReason: Schema.optional(Schema.String).pipe(Schema.fromKey("finish_reason")),
  /** The engine's `system_fingerprint`, when it sends one. */
  systemFingerprint: Schema.optional(Schema.String).pipe(Schema.fromKey("system_fingerprint"))
})

/**
 * The task finished.
 *
 * @category models
 * @since 0.1.0
 */
export interface End extends Schema.Schema.Type<typeof End> {}

/**
 * The task failed or was cancelled. Tagged `failed`, not `error`: a browser `EventSource` hands an
 * SSE event named `error` to its `onerror` handler, as if the connection had failed.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Failed = Schema.TaggedStruct("failed", {
  code: ErrorCode,
  message: Schema.String,
  retriable: Schema.Boolean,
  retryAfterMs: Schema.optional(Schema.Number).pipe(Schema.fromKey("retry_after_ms"))
})

/**
 * The task failed or was cancelled.
 *
 * @category models
 * @since 0.1.0
 */
export interface Failed extends Schema.Schema.Type<typeof Failed> {}

/**
 * Any task event.
 *
 * @category schemas
 * @since 0.1.0
 */
export const TaskEvent = Schema.Union(Started, Metrics, Loading, Requeued, Token, End, Failed)

/**
 * A value of the `TaskEvent` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type TaskEvent = typeof TaskEvent.Type

/**
 * A task event with its sequence number (`id`, from 1, strictly increasing per task), used for the
 * SSE `id:` field and `Last-Event-ID` resume.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SequencedEvent = Schema.Struct({
  id: Schema.Int,
  event: TaskEvent
})

/**
 * A task event with its sequence number.
 *
 * @category models
 * @since 0.1.0
 */
export interface SequencedEvent extends Schema.Schema.Type<typeof SequencedEvent> {}

/**
 * Whether an event ends the stream.
 *
 * @category guards
 * @since 0.1.0
 */
export const isTerminal = (event: TaskEvent): event is End | Failed => event._tag === "end" || event._tag === "failed"
