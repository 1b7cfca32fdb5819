/**
 * The handlers of the `tasks` group of the HTTP API: submit, events (SSE with `Last-Event-ID`),
 * get and cancel.
 *
 * @internal
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ShutdownSignal } from "@llama-orch/daemon-kit"
import { isTerminal, Orchestrator, TaskRequest, TaskSnapshot } from "@llama-orch/orchestrator-core"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { OrchestratorApi } from "../Api.js"
import { fromSubmitError, fromTaskNotFound, shuttingDown } from "../ApiFailure.js"
import { toResponse } from "../ErrorResponses.js"
import { ActivitySnapshotEvent, ActivityTaskEvent } from "../EventSchemas.js"
import { ServerSettings } from "../ServerSettings.js"
import * as Sse from "../Sse.js"
import { TaskAccepted } from "../WireSchemas.js"
import { readJson } from "./body.js"
import { recover } from "./respond.js"

const encodeAccepted = Schema.encodeSync(TaskAccepted)
const encodeSnapshot = Schema.encodeSync(TaskSnapshot)
const readTaskRequest = readJson(TaskRequest)
const encodeActivitySnapshot = Schema.encodeSync(ActivitySnapshotEvent)
const encodeActivityTask = Schema.encodeSync(ActivityTaskEvent)

/** The `Last-Event-ID` of a reconnect, as the id to resume after (0: from the start). */
export const parseLastEventId = (value: string | undefined): number => {
  if (value === undefined) return 0
  const trimmed = value.trim()
  return /^\d{1,15}$/.test(trimmed) ? Number(trimmed) : 0
}

/** The handlers of `/v2/tasks`. */
export const TasksLive = HttpApiBuilder.group(OrchestratorApi, "tasks", (handlers) =>
  Effect.gen(function*() {
    const orchestrator = yield* Orchestrator
    const settings = yield* ServerSettings
    const signal = yield* ShutdownSignal.ShutdownSignal
    return handlers
      .handleRaw("submit", () =>
        Effect.gen(function*() {
          if (yield* signal.isShuttingDown) return toResponse(shuttingDown())
          const request = yield* readTaskRequest
          const admission = yield* orchestrator.submit(request).pipe(Effect.mapError(fromSubmitError))
          yield* Effect.whenLogLevel(
            Effect.logDebug("Task admitted.").pipe(
              Effect.annotateLogs({ task_id: admission.taskId, session_id: request.sessionId ?? "" })
            ),
            "Debug"
          )
          return HttpServerResponse.unsafeJson(
            encodeAccepted(
              new TaskAccepted({
                taskId: admission.taskId,
                queuePosition: admission.queuePosition,
                predictedStartMs: admission.predictedStartMs,
                backoffMs: admission.backoffMs,
                streams: { sse: `/v2/tasks/${encodeURIComponent(admission.taskId)}/events` }
              })
            ),
            { status: 202 }
          )
        }).pipe(recover))
      .handleRaw("events", ({ path, request, urlParams }) =>
        Effect.gen(function*() {
          const afterId = parseLastEventId(request.headers["last-event-id"])
          const failedName = yield* Sse.failedEventName(urlParams)
          // subscribed before the response exists, so an ended task with nothing left to send can
          // answer 204; frames that arrive meanwhile wait in `pending` until `emit` takes over
          const pending: Array<string> = []
          let target: Sse.Emit | undefined
          let terminal = false
          const ended = yield* orchestrator.subscribe(path.id, (sequenced) => {
            const frame = Sse.taskEventFrame(sequenced, failedName)
            const last = isTerminal(sequenced.event)
            if (target === undefined) {
              pending.push(frame)
              terminal = last
            } else {
              target.frame(frame)
              if (last) target.end()
            }
          }, { afterId }).pipe(Effect.mapError(fromTaskNotFound))
          // everything up to the final event has been delivered: 204 is how an EventSource is told
          // not to reconnect (a 200 that ends at once makes it reconnect every `retry` forever)
          if (ended && pending.length === 0) return HttpServerResponse.empty({ status: 204 })
          return yield* Sse.push(
            (emit) =>
              Effect.sync(() => {
                for (const frame of pending) emit.frame(frame)
                if (terminal) emit.end()
                else target = emit
              }),
            {
              heartbeatMs: settings.heartbeatMs,
              final: Sse.shutdownFrame(failedName),
              maxBufferedBytes: settings.sseMaxBufferedBytes
            }
          )
        }).pipe(recover))
      .handleRaw("activity", ({ urlParams }) =>
        Effect.gen(function*() {
          const failedName = yield* Sse.failedEventName(urlParams)
          return yield* Sse.push(
            (emit) => {
              let id = 0
              // changes that come before the snapshot is written wait behind it
              let pending: Array<typeof ActivityTaskEvent.Encoded> | undefined = []
              const send = (data: typeof ActivityTaskEvent.Encoded) => emit.frame(Sse.frame("task", data, ++id))
              return Effect.map(
                orchestrator.watchTasks((task, depths) => {
                  const data = encodeActivityTask({ task, queue_depths: Object.fromEntries(depths) })
                  if (pending === undefined) send(data)
                  else pending.push(data)
                }),
                ({ queueDepths, tasks }) => {
                  const snapshot = encodeActivitySnapshot({ tasks, queue_depths: Object.fromEntries(queueDepths) })
                  emit.frame(Sse.frame("snapshot", snapshot, ++id))
                  for (const data of pending ?? []) send(data)
                  pending = undefined
                }
              )
            },
            {
              heartbeatMs: settings.heartbeatMs,
              final: Sse.shutdownFrame(failedName),
              maxBufferedBytes: settings.sseMaxBufferedBytes
            }
          )
        }).pipe(recover))
      .handleRaw("cancel", ({ path }) =>
        orchestrator.cancel(path.id).pipe(
          Effect.mapError(fromTaskNotFound),
          Effect.as(HttpServerResponse.empty({ status: 204 })),
          recover
        ))
      .handleRaw("get", ({ path }) =>
        orchestrator.get(path.id).pipe(
          Effect.mapError(fromTaskNotFound),
          Effect.map((snapshot) => HttpServerResponse.unsafeJson(encodeSnapshot(snapshot))),
          recover
        ))
  }))
