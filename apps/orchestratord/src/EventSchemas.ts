/**
 * The events of orchestratord's event streams, one schema per event type: what the `data:` of each
 * event holds, by stream. The OpenAPI document lists them under `x-sse-events` of each
 * `text/event-stream` response, referencing these schemas as components.
 *
 * @since 0.1.0
 */
import { End, Failed, Loading, Metrics, Started, TaskSnapshot, Token } from "@llama-orch/orchestrator-core"
import * as Schema from "effect/Schema"
import * as Struct from "effect/Struct"
import { ChatCompletionChunk, CompletionChunk, OpenAiError } from "./OpenAiSchemas.js"
import { PoolSummary } from "./WireSchemas.js"

/**
 * `started`: the task was admitted.
 *
 * @since 0.1.0
 */
export const TaskStartedEvent = Schema.Struct(Struct.omit(Started.fields, "_tag")).annotations({
  identifier: "TaskStartedEvent",
  description: "The task was admitted."
})

/**
 * `metrics`: progress while queued and at dispatch.
 *
 * @since 0.1.0
 */
export const TaskMetricsEvent = Schema.Struct(Struct.omit(Metrics.fields, "_tag")).annotations({
  identifier: "TaskMetricsEvent",
  description: "Progress while queued and at dispatch."
})

/**
 * `loading`: the task waits for an engine that is loading its model.
 *
 * @since 0.1.0
 */
export const TaskLoadingEvent = Schema.Struct(Struct.omit(Loading.fields, "_tag")).annotations({
  identifier: "TaskLoadingEvent",
  description:
    "The task waits for an engine loading its model: elapsed time, the time left by the last load of that model " +
    "(eta_ms) and the engine's own last progress line."
})

/**
 * `token`: one generated token.
 *
 * @since 0.1.0
 */
export const TaskTokenEvent = Schema.Struct(Struct.omit(Token.fields, "_tag")).annotations({
  identifier: "TaskTokenEvent",
  description:
    "One generated token: text t, index i; c is the choice (absent: 0) and x the fields the engine sent beyond text."
})

/**
 * `end`: the task finished.
 *
 * @since 0.1.0
 */
export const TaskEndEvent = Schema.Struct(Struct.omit(End.fields, "_tag")).annotations({
  identifier: "TaskEndEvent",
  description: "The task finished."
})

/**
 * `failed`: the task failed or was cancelled, or the stream was cut (shutdown, pool manager gone).
 *
 * @since 0.1.0
 */
export const FailedEvent = Schema.Struct(Struct.omit(Failed.fields, "_tag")).annotations({
  identifier: "FailedEvent",
  description:
    "The task failed or was cancelled, or the stream was cut: orchestratord shuts down, or the pool manager cannot " +
    "be reached (retriable)."
})

/**
 * `snapshot`: every pool, first on a pool event stream.
 *
 * @since 0.1.0
 */
export const PoolSnapshotEvent = Schema.Struct({ pools: Schema.Array(PoolSummary) }).annotations({
  identifier: "PoolSnapshotEvent",
  description: "Every pool, first on the stream."
})

/**
 * `status`: one pool changed.
 *
 * @since 0.1.0
 */
export const PoolStatusEvent = Schema.Struct({ reason: Schema.String, pool: PoolSummary }).annotations({
  identifier: "PoolStatusEvent",
  description: "One pool changed; reason says why in a few words (ready, lease-acquired, ...)."
})

const QueueDepths = Schema.Record({ key: Schema.String, value: Schema.Int }).annotations({
  description: "How many tasks wait, per model."
})

/**
 * `snapshot`: the retained tasks and the queues, first on the activity stream.
 *
 * @since 0.1.0
 */
export const ActivitySnapshotEvent = Schema.Struct({
  tasks: Schema.Array(TaskSnapshot),
  queue_depths: QueueDepths
}).annotations({
  identifier: "ActivitySnapshotEvent",
  description: "The retained tasks, newest first (at most 50), and the queue depth of each model; first on the stream."
})

/**
 * `task`: one task changed.
 *
 * @since 0.1.0
 */
export const ActivityTaskEvent = Schema.Struct({ task: TaskSnapshot, queue_depths: QueueDepths }).annotations({
  identifier: "ActivityTaskEvent",
  description: "One task changed (admitted, moved in its queue, dispatched, placed again, its first token, ended), " +
    "with the queue depth of each model after the change."
})

/**
 * One event type of a stream: its SSE event name (`message` for unnamed `data:`-only events),
 * whether it carries an `id:`, and the schema of its `data:` (JSON), or the literal `data:` text.
 *
 * @since 0.1.0
 */
export interface StreamEvent {
  readonly event: string
  readonly id: boolean
  readonly data: { readonly _tag: "Json"; readonly schema: Schema.Schema.AnyNoContext } | {
    readonly _tag: "Literal"
    readonly text: string
  }
  readonly description: string
}

const json = (
  event: string,
  schema: Schema.Schema.AnyNoContext,
  description: string,
  id = true
): StreamEvent => ({ event, id, data: { _tag: "Json", schema }, description })

/**
 * The events of `GET /v2/tasks/{id}/events`, in the order they come.
 *
 * @since 0.1.0
 */
export const taskEvents: ReadonlyArray<StreamEvent> = [
  json("started", TaskStartedEvent, "first"),
  json("metrics", TaskMetricsEvent, "while queued and at dispatch"),
  json("loading", TaskLoadingEvent, "while the model's engine loads, each time the load reports"),
  json("token", TaskTokenEvent, "one per generated token"),
  json("end", TaskEndEvent, "last, when the task finished"),
  json("failed", FailedEvent, "last, when the task failed or was cancelled; without id when the stream was cut"),
  json("error", FailedEvent, "`failed` under its old name, with ?legacy_error_event=1 (deprecated)")
]

/**
 * The events of `GET /v2/pools/events`.
 *
 * @since 0.1.0
 */
export const poolEvents: ReadonlyArray<StreamEvent> = [
  json("snapshot", PoolSnapshotEvent, "first"),
  json("status", PoolStatusEvent, "one per change of a pool"),
  json("failed", FailedEvent, "last: the pool manager cannot be reached, or orchestratord shuts down", false),
  json("error", FailedEvent, "`failed` under its old name, with ?legacy_error_event=1 (deprecated)", false)
]

/**
 * The events of `GET /v2/activity/events`.
 *
 * @since 0.1.0
 */
export const activityEvents: ReadonlyArray<StreamEvent> = [
  json("snapshot", ActivitySnapshotEvent, "first"),
  json("task", ActivityTaskEvent, "one per change of a task"),
  json("failed", FailedEvent, "last: orchestratord shuts down", false),
  json("error", FailedEvent, "`failed` under its old name, with ?legacy_error_event=1 (deprecated)", false)
]

/**
 * The text of the last event of a `/v1` stream.
 *
 * @since 0.1.0
 */
export const doneText = "[DONE]"

const openAiStream = (chunk: Schema.Schema.AnyNoContext): ReadonlyArray<StreamEvent> => [
  json(
    "message",
    chunk,
    "one per token; then one that ends each choice (finish_reason); then the usage chunk " +
      "(choices: [], usage) when stream_options.include_usage is set",
    false
  ),
  json("message", OpenAiError, "the task failed: the last event", false),
  { event: "message", id: false, data: { _tag: "Literal", text: doneText }, description: "the end of the stream" }
]

/**
 * The events of `POST /v1/chat/completions` with `stream: true`.
 *
 * @since 0.1.0
 */
export const chatEvents: ReadonlyArray<StreamEvent> = openAiStream(ChatCompletionChunk)

/**
 * The events of `POST /v1/completions` with `stream: true`.
 *
 * @since 0.1.0
 */
export const completionEvents: ReadonlyArray<StreamEvent> = openAiStream(CompletionChunk)

/**
 * The schemas of every stream's events, for the OpenAPI document's components.
 *
 * @since 0.1.0
 */
export const eventSchemas: ReadonlyArray<Schema.Schema.AnyNoContext> = [
  ...new Set(
    [...taskEvents, ...poolEvents, ...activityEvents, ...chatEvents, ...completionEvents].flatMap((e) =>
      e.data._tag === "Json" ? [e.data.schema] : []
    )
  )
]
