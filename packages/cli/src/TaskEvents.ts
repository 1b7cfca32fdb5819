/**
 * A task's event stream (`GET /v2/tasks/{id}/events`) decoded with orchestrator-core's task event
 * schemas: the SSE event name is the event's tag, its `data:` the fields.
 *
 * @since 0.1.0
 */
import { TaskEvent } from "@llama-orch/orchestrator-core"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { BadAnswer, type CliError } from "./CliError.js"
import { OrchestratorClient } from "./OrchestratorClient.js"

/**
 * One event of a task: decoded, and as sent (`{ event, data }`, what `--json` prints).
 *
 * @since 0.1.0
 */
export interface Received {
  readonly event: TaskEvent
  readonly raw: { readonly event: string; readonly data: unknown }
}

const decode = Schema.decodeUnknown(TaskEvent)
// every tag of TaskEvent (the type makes the list complete)
const tags: Record<TaskEvent["_tag"], true> = {
  started: true,
  metrics: true,
  loading: true,
  requeued: true,
  token: true,
  end: true,
  failed: true
}

/**
 * The route of a task's events.
 *
 * @since 0.1.0
 */
export const route = (taskId: string): string => `/v2/tasks/${encodeURIComponent(taskId)}/events`

/**
 * The events of a task until the server ends the stream (after `end` or `failed`). Event types the
 * command line does not know are skipped.
 *
 * @since 0.1.0
 */
export const events = (taskId: string): Stream.Stream<Received, CliError, OrchestratorClient> =>
  Stream.unwrap(Effect.map(OrchestratorClient, (client) =>
    client.events(route(taskId)).pipe(
      Stream.filter((sse) => Object.hasOwn(tags, sse.event)),
      Stream.mapEffect((sse) =>
        Effect.try(() => JSON.parse(sse.data) as unknown).pipe(
          Effect.flatMap((data) =>
            Effect.map(
              decode(typeof data === "object" && data !== null ? { ...data, _tag: sse.event } : data),
              (event): Received => ({ event, raw: { event: sse.event, data } })
            )
          ),
          Effect.mapError((error) =>
            new BadAnswer({
              route: `GET ${route(taskId)}`,
              reason: ParseResult.isParseError(error) ? ParseResult.TreeFormatter.formatErrorSync(error) : error.message
            })
          )
        )
      )
    )))
