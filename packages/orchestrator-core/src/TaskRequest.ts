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
 * @since 0.1.0
 */
export const Priority = Schema.Literal("interactive", "batch")

/**
 * @since 0.1.0
 */
export type Priority = typeof Priority.Type

/**
 * One chat message (for OpenAI-style chat requests).
 *
 * @since 0.1.0
 */
export class ChatMessage extends Schema.Class<ChatMessage>("ChatMessage")({
  role: Schema.Literal("system", "user", "assistant", "tool", "developer"),
  content: Schema.String
}) {}

/**
 * Placement hints: `pinPoolId` routes the task to that pool or fails, never silently elsewhere.
 *
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
