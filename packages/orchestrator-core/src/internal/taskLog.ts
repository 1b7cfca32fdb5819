import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type { ErrorCode } from "../TaskErrors.js"
import { Failed, isTerminal, SequencedEvent, type TaskEvent } from "../TaskEvent.js"
import type { Entry } from "../TaskQueue.js"
import type { Priority, TaskRequest } from "../TaskRequest.js"
import { TaskSnapshot, type TaskState } from "../TaskSnapshot.js"

/**
 * One task's mutable record. Every change of its events goes through `emit`, which runs
 * synchronously: emission and the terminal flag are decided in one place, so once a terminal
 * event is recorded nothing else is, whoever tries.
 */
export interface TaskRecord {
  readonly id: string
  readonly request: TaskRequest
  readonly model: string
  readonly priority: Priority
  readonly submittedAt: number
  readonly events: Array<SequencedEvent>
  readonly listeners: Set<Queue.Queue<SequencedEvent>>
  state: TaskState
  terminal: boolean
  tokensIn: number
  tokensOut: number
  poolId: string | undefined
  position: number | undefined
  /** The task's place in its model's queue while it waits. */
  entry: Entry<TaskRecord> | undefined
  errorCode: ErrorCode | undefined
  startedAt: number | undefined
  endedAt: number | undefined
}

export const makeRecord = (
  id: string,
  request: TaskRequest,
  submittedAt: number,
  tokensIn: number
): TaskRecord => ({
  id,
  request,
  model: request.modelRef,
  priority: request.priority,
  submittedAt,
  events: [],
  listeners: new Set(),
  state: "queued",
  terminal: false,
  tokensIn,
  tokensOut: 0,
  poolId: undefined,
  position: undefined,
  entry: undefined,
  errorCode: undefined,
  startedAt: undefined,
  endedAt: undefined
})

/**
 * Appends an event unless the task already ended; answers whether it was appended. A terminal
 * event also sets the task's end state and time.
 */
export const emit = (record: TaskRecord, event: TaskEvent, now: number): boolean => {
  if (record.terminal) return false
  const sequenced = new SequencedEvent({ id: record.events.length + 1, event }, true)
  record.events.push(sequenced)
  for (const listener of record.listeners) listener.unsafeOffer(sequenced)
  if (isTerminal(event)) {
    record.terminal = true
    record.endedAt = now
    record.listeners.clear()
    if (event._tag === "end") {
      record.state = "completed"
    } else {
      record.errorCode = event.code
      record.state = event.code === "CANCELLED" ? "cancelled" : "failed"
    }
  }
  return true
}

/** Ends the task with an `error` event; answers whether it was still open. */
export const fail = (
  record: TaskRecord,
  now: number,
  code: ErrorCode,
  message: string,
  retriable: boolean,
  retryAfterMs?: number
): boolean =>
  emit(
    record,
    new Failed({ code, message, retriable, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }),
    now
  )

/** Retained events after `afterId`, then live ones until the terminal event; no gap, no duplicate. */
export const follow = (record: TaskRecord, afterId: number): Stream.Stream<SequencedEvent> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const live = yield* Queue.unbounded<SequencedEvent>()
    const { ended, replay } = yield* Effect.sync(() => {
      const retained = record.events.slice(Math.max(0, afterId))
      if (!record.terminal) record.listeners.add(live)
      return { replay: retained, ended: record.terminal }
    })
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => record.listeners.delete(live)).pipe(Effect.zipRight(Queue.shutdown(live)))
    )
    const replayed = Stream.fromIterable(replay)
    if (ended) return replayed
    const following = Stream.fromQueue(live).pipe(
      Stream.filter((e) => e.id > afterId),
      Stream.takeUntil((e) => isTerminal(e.event))
    )
    return Stream.concat(replayed, following)
  }))

/** The task's state and counters. */
export const snapshot = (record: TaskRecord): TaskSnapshot =>
  new TaskSnapshot({
    taskId: record.id,
    state: record.state,
    modelRef: record.model,
    priority: record.priority,
    sessionId: record.request.sessionId,
    poolId: record.poolId,
    queuePosition: record.state === "queued" ? record.position : undefined,
    tokensIn: record.tokensIn,
    tokensOut: record.tokensOut,
    errorCode: record.errorCode,
    submittedAt: record.submittedAt,
    startedAt: record.startedAt,
    endedAt: record.endedAt
  })
