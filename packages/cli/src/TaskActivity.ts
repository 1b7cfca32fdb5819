/**
 * orchestratord's task activity stream (`GET /v2/activity/events`) decoded: the retained tasks and
 * the queue depth of each model first, then one update per change of a task. `top` reads it for its
 * recent tasks.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { CliError } from "./CliError.js"
import { decodeData, OrchestratorClient } from "./OrchestratorClient.js"
import { ActivitySnapshot, ActivityTask, type TaskStatus } from "./WireSchemas.js"

/**
 * One event of the stream: the tasks it names (all of them, for the snapshot) and the queue depths.
 *
 * @since 0.1.0
 */
export interface ActivityUpdate {
  readonly snapshot: boolean
  readonly tasks: ReadonlyArray<TaskStatus>
  readonly queueDepths: Readonly<Record<string, number>>
}

const route = "/v2/activity/events"

/**
 * The task activity, decoded. An orchestratord without the stream (404) gives none; the stream
 * ends when the server ends it.
 *
 * @since 0.1.0
 */
export const updates: Stream.Stream<ActivityUpdate, CliError, OrchestratorClient> = Stream.unwrap(
  Effect.map(OrchestratorClient, (client) =>
    client.events(route).pipe(
      Stream.mapEffect((event): Effect.Effect<ReadonlyArray<ActivityUpdate>, CliError> => {
        switch (event.event) {
          case "snapshot":
            return Effect.map(decodeData(route, ActivitySnapshot, event.data), (s) => [
              { snapshot: true, tasks: s.tasks, queueDepths: s.queue_depths }
            ])
          case "task":
            return Effect.map(decodeData(route, ActivityTask, event.data), (t) => [
              { snapshot: false, tasks: [t.task], queueDepths: t.queue_depths }
            ])
          default:
            return Effect.succeed([])
        }
      }),
      Stream.flattenIterables,
      Stream.catchTag("ApiError", (error) => error.status === 404 ? Stream.empty : Stream.fail(error))
    ))
)
