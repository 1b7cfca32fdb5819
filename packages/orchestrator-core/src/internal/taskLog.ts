/**
 * The record of a task: its state, counters and the numbered events subscribers replay.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
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
  /** Called synchronously with every event as it is recorded, until the terminal one. */
  readonly listeners: Set<(event: SequencedEvent) => void>
  state: TaskState
  terminal: boolean
  tokensIn: number
  tokensOut: number
  poolId: string | undefined
  /** The engine of the pool the task runs on. */
  engine: string | undefined
  position: number | undefined
  /** The task's place in its model's queue while it waits. */
  entry: Entry<TaskRecord> | undefined
  errorCode: ErrorCode | undefined
  startedAt: number | undefined
  /** When the first token came. */
  firstTokenAt: number | undefined
  endedAt: number | undefined
  /** How often the task was placed again after its engine failed before its first token (at most once). */
  replaced: number
  /** Told of every change of the task's state: each event but the tokens after the first. */
  readonly onChange: ((record: TaskRecord) => void) | undefined
}

export const makeRecord = (
  id: string,
  request: TaskRequest,
  submittedAt: number,
  tokensIn: number,
  onChange?: (record: TaskRecord) => void
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
  engine: undefined,
  position: undefined,
  entry: undefined,
  errorCode: undefined,
  startedAt: undefined,
  firstTokenAt: undefined,
  endedAt: undefined,
  replaced: 0,
  onChange
})

/** Calls a listener; one that throws loses its subscription, not the task. */
const deliver = (listener: (event: SequencedEvent) => void, event: SequencedEvent): boolean => {
  try {
    listener(event)
    return true
  } catch {
    return false
  }
}

/**
 * Appends an event unless the task already ended; answers whether it was appended. A terminal
 * event also sets the task's end state and time.
 */
export const emit = (record: TaskRecord, event: TaskEvent, now: number): boolean => {
  if (record.terminal) return false
  const sequenced: SequencedEvent = { id: record.events.length + 1, event }
  record.events.push(sequenced)
  for (const listener of record.listeners) {
    if (!deliver(listener, sequenced)) record.listeners.delete(listener)
  }
  const first = event._tag === "token" && record.firstTokenAt === undefined
  if (first) record.firstTokenAt = now
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
  if (record.onChange !== undefined && (first || event._tag !== "token")) record.onChange(record)
  return true
}

/** Ends the task with a `failed` event; answers whether it was still open. */
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
    Failed.make({ code, message, retriable, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }),
    now
  )

/**
 * Calls `onEvent` with the retained events after `afterId`, then with every new event as it is
 * recorded, until the terminal one; no gap, no duplicate. Answers whether the task had already
 * ended (nothing more will come). The subscription ends with the scope.
 */
export const subscribe = (
  record: TaskRecord,
  afterId: number,
  onEvent: (event: SequencedEvent) => void
): Effect.Effect<boolean, never, Scope.Scope> =>
  Effect.scopeWith((scope) => {
    // replay and registration happen in one synchronous step, so no event falls between them
    for (let i = Math.max(0, afterId); i < record.events.length; i++) {
      const event = record.events[i]
      if (event !== undefined && !deliver(onEvent, event)) return Effect.succeed(record.terminal)
    }
    if (record.terminal) return Effect.succeed(true)
    record.listeners.add(onEvent)
    // a plain finalizer on the scope: `acquireRelease` would diff every fiber ref around it
    return Effect.as(Scope.addFinalizer(scope, Effect.sync(() => record.listeners.delete(onEvent))), false)
  }).pipe(Effect.uninterruptible)

/** `subscribe` as a stream: it ends after the terminal event. */
export const follow = (record: TaskRecord, afterId: number): Stream.Stream<SequencedEvent> =>
  Stream.asyncPush<SequencedEvent>((emit) =>
    Effect.map(
      subscribe(record, afterId, (event) => {
        emit.single(event)
        if (isTerminal(event.event)) emit.end()
      }),
      (ended) => {
        if (ended) emit.end()
      }
    ), { bufferSize: "unbounded" })

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
    firstTokenAt: record.firstTokenAt,
    endedAt: record.endedAt
  })
