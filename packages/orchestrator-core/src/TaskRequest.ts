/**
 * Task requests: what a client submits. Field names are camelCase in TypeScript and snake_case on
 * the wire (the schema's encoded side), so the HTTP layer shares this schema as is.
 *
 * @since 0.1.0
 */
import { ModelRef, PoolId } from "@llama-orch/pool-core"
import * as Schema from "effect/Schema"

/**
 * Task priority: `interactive` tasks are always dequeued before `batch` tasks.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Priority = Schema.Literal("interactive", "batch")

/**
 * A value of the `Priority` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type Priority = typeof Priority.Type

/**
 * One chat message (for OpenAI-style chat requests).
 *
 * @category models
 * @since 0.1.0
 */
export class ChatMessage extends Schema.Class<ChatMessage>("ChatMessage")({
  role: Schema.Literal("system", "user", "assistant", "tool", "developer"),
  content: Schema.String,
  /** The calls an assistant message made (OpenAI's `tool_calls`), sent to the engine as they are. */
  toolCalls: Schema.optional(Schema.Array(Schema.Unknown)).pipe(Schema.fromKey("tool_calls")),
  /** Which call a `tool` message answers. */
  toolCallId: Schema.optional(Schema.String).pipe(Schema.fromKey("tool_call_id")),
  name: Schema.optional(Schema.String)
}) {}

/**
 * Request fields a task sets itself, which `engine_params` may not set.
 *
 * @category utils
 * @since 0.1.0
 */
export const reservedEngineParams: ReadonlySet<string> = new Set([
  "model",
  "prompt",
  "messages",
  "stream",
  "stream_options",
  "max_tokens",
  "max_completion_tokens",
  "n_predict",
  "seed",
  "temperature",
  "top_p",
  "stop"
])

/**
 * Fields sent to the engine as they are, for what the task's own fields do not cover (OpenAI's
 * `tools`, `tool_choice`, `response_format`, `n`, `logprobs`, ...). Such a task always goes to the
 * engine's OpenAI-compatible endpoints (llama-server serves them too).
 *
 * @category schemas
 * @since 0.1.0
 */
export const EngineParams = Schema.Record({ key: Schema.String, value: Schema.Unknown }).pipe(
  Schema.filter((params) => {
    const reserved = Object.keys(params).find((key) => reservedEngineParams.has(key))
    return reserved === undefined ? true : `engine_params may not set '${reserved}': it is a field of the task`
  })
)

/**
 * Placement hints: `pinPoolId` routes the task to that pool or fails, never silently elsewhere.
 *
 * @category models
 * @since 0.1.0
 */
export class Placement extends Schema.Class<Placement>("Placement")({
  pinPoolId: Schema.optional(PoolId).pipe(Schema.fromKey("pin_pool_id"))
}) {}

const Id = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9._:-]{1,128}$/, {
    message: () => "an id is 1-128 characters of letters, digits, '.', '_', ':' or '-'"
  })
)

/**
 * A task request. Exactly one of `prompt` (completion) or `messages` (chat) is given.
 *
 * @category models
 * @since 0.1.0
 */
export class TaskRequest extends Schema.Class<TaskRequest>("TaskRequest")(
  Schema.Struct({
    taskId: Schema.optional(Id).pipe(Schema.fromKey("task_id")),
    sessionId: Schema.optional(Id).pipe(Schema.fromKey("session_id")),
    modelRef: Schema.propertySignature(ModelRef).pipe(Schema.fromKey("model_ref")),
    prompt: Schema.optional(Schema.String.pipe(Schema.maxLength(4 * 1024 * 1024))),
    messages: Schema.optional(Schema.Array(ChatMessage).pipe(Schema.minItems(1))),
    maxTokens: Schema.propertySignature(Schema.Int.pipe(Schema.between(1, 1_000_000))).pipe(
      Schema.fromKey("max_tokens")
    ),
    priority: Schema.optionalWith(Priority, { default: () => "interactive" as const }),
    seed: Schema.optional(Schema.Int),
    temperature: Schema.optional(Schema.Number.pipe(Schema.between(0, 2))),
    topP: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))).pipe(Schema.fromKey("top_p")),
    stop: Schema.optional(Schema.Array(Schema.String).pipe(Schema.maxItems(16))),
    engineParams: Schema.optional(EngineParams).pipe(Schema.fromKey("engine_params")),
    deadlineMs: Schema.optional(Schema.Int.pipe(Schema.positive())).pipe(Schema.fromKey("deadline_ms")),
    placement: Schema.optional(Placement)
  }).pipe(
    Schema.filter((r) =>
      (r.prompt === undefined) === (r.messages === undefined)
        ? "exactly one of prompt or messages is required"
        : true
    )
  )
) {}
