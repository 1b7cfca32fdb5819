/**
 * Running one task on a pool: take a lease, stream the engine's answer as task events, release.
 *
 * @internal
 */
import type { PoolId, PoolManagerService } from "@llama-orch/pool-core"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as EngineAdapter from "../EngineAdapter.js"
import type { EngineTransportService } from "../EngineTransport.js"
import * as OrchestratorMetrics from "../OrchestratorMetrics.js"
import type { OrchestratorOptions } from "../OrchestratorOptions.js"
import type { End, Token } from "../TaskEvent.js"
import { type MetricLabels, record as recordMetric } from "./metricLabels.js"
import { emit, fail, type TaskRecord } from "./taskLog.js"

/** The pool refused the lease (not Ready, draining, full, gone or unreachable): the task waits again. */
export class LeaseRefused
  extends Data.TaggedError("LeaseRefused")<{ readonly poolId: string; readonly reason: string }>
{}

class WatchdogTimeout extends Data.TaggedError("WatchdogTimeout")<{
  readonly reason: string
  readonly retriable: boolean
}> {}

type Done = EngineAdapter.Done

/** What a running task needs from the orchestrator. */
export interface RunContext {
  readonly pools: PoolManagerService
  readonly transport: EngineTransportService
  readonly options: OrchestratorOptions
  /** Queue depth and on-time probability reported at dispatch. */
  readonly dispatchInfo: (record: TaskRecord, now: number) => {
    readonly queueDepth: number
    readonly onTimeProbability?: number | undefined
  }
  /** A task ended normally after `serviceMs` of service. */
  readonly onEnded: (record: TaskRecord, serviceMs: number, now: number) => void
  readonly labels: MetricLabels
}

/**
 * Runs one dispatched task: takes the lease (released when this effect ends, whatever the exit),
 * streams the engine's output into token events under the watchdog, and ends the task. Answers
 * `false` when the lease was refused and the task should wait again.
 *
 * Runs on a fiber of its own, whose log annotations it sets for good (`task_id`, `pool_id`,
 * `session_id`): `annotateLogs` would cost an acquire-use-release per task to restore them.
 */
export const runTask = (
  ctx: RunContext,
  record: TaskRecord,
  poolId: PoolId,
  kvWarmth: boolean
): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    yield* FiberRef.update(FiberRef.currentLogAnnotations, (annotations) => {
      const task = HashMap.set(HashMap.set(annotations, "task_id", record.id), "pool_id", poolId)
      const sessionId = record.request.sessionId
      return sessionId === undefined ? task : HashMap.set(task, "session_id", sessionId)
    })
    if (record.terminal) return true
    const dispatchedAt = yield* Clock.currentTimeMillis
    const deadlineMs = record.request.deadlineMs
    const deadlineAt = deadlineMs === undefined ? Infinity : record.submittedAt + deadlineMs
    if (dispatchedAt >= deadlineAt) {
      return yield* new WatchdogTimeout({
        reason: `deadline of ${deadlineMs} ms passed while queued`,
        retriable: false
      })
    }
    return yield* Effect.scoped(Effect.gen(function*() {
      const lease = yield* ctx.pools.lease(poolId).pipe(
        Effect.mapError((e) => new LeaseRefused({ poolId, reason: e.message }))
      )
      const leasedAt = yield* Clock.currentTimeMillis
      const opened = yield* Effect.sync(() => {
        if (record.terminal) return false
        record.state = "running"
        record.poolId = poolId
        record.engine = lease.engine
        record.startedAt = leasedAt
        record.position = undefined
        return emit(record, { _tag: "metrics", ...ctx.dispatchInfo(record, leasedAt), poolId, kvWarmth }, leasedAt)
      })
      if (!opened) return true
      const poolLabels = ctx.labels.of(["pool_id", poolId], ["engine", lease.engine])
      recordMetric(
        OrchestratorMetrics.tasksStarted,
        1,
        ctx.labels.of(["pool_id", poolId], ["engine", lease.engine], ["priority", record.priority])
      )
      const progress: { done: Done | undefined; firstTokenAt: number | undefined; lastAt: number } = {
        done: undefined,
        firstTokenAt: undefined,
        lastAt: leasedAt
      }
      const clock = yield* Effect.clock
      // the watchdog aborts the request when it fires
      const abort = new AbortController()
      const timedOut: { error: WatchdogTimeout | undefined } = { error: undefined }
      // the hot path: each piece becomes a token event as its bytes arrive, no stream stage per token
      const consume = EngineAdapter.runWith(ctx.transport, lease, record.request, (text, choice, extra) => {
        const at = clock.unsafeCurrentTimeMillis()
        progress.lastAt = at
        const token: Token = choice === undefined && extra === undefined
          ? { _tag: "token", t: text, i: record.tokensOut }
          : {
            _tag: "token",
            t: text,
            i: record.tokensOut,
            ...(choice === undefined ? {} : { c: choice }),
            ...(extra === undefined ? {} : { x: extra })
          }
        if (emit(record, token, at)) {
          record.tokensOut++
          if (progress.firstTokenAt === undefined) {
            progress.firstTokenAt = at
            recordMetric(OrchestratorMetrics.latencyFirstToken, (at - record.submittedAt) / 1000, poolLabels)
          }
        }
      }, abort.signal).pipe(Effect.map((done) => {
        progress.done = done
      }))
      // one timer per quiet period rather than one per chunk: it sleeps until the next moment a
      // timeout could fire, and fails only when nothing arrived meanwhile
      const watchdog = Effect.gen(function*() {
        while (true) {
          const now = yield* Clock.currentTimeMillis
          const first = progress.firstTokenAt === undefined
          const watch = first ? ctx.options.firstTokenTimeoutMs : ctx.options.idleTimeoutMs
          const idleAt = progress.lastAt + watch
          if (now >= deadlineAt) {
            return yield* new WatchdogTimeout({ reason: `deadline of ${deadlineMs} ms passed`, retriable: false })
          }
          if (now >= idleAt) {
            return yield* new WatchdogTimeout({
              reason: first ? `no first token within ${watch} ms` : `no token for ${watch} ms`,
              retriable: true
            })
          }
          yield* Effect.sleep(Math.min(idleAt, deadlineAt) - now)
        }
      })
      // the request goes out on this fiber, at once; the watchdog waits beside it in the task's scope
      yield* watchdog.pipe(
        Effect.catchAll((error) =>
          Effect.sync(() => {
            timedOut.error = error
            abort.abort()
          })
        ),
        Effect.forkScoped
      )
      yield* consume.pipe(Effect.catchAll((error) => timedOut.error === undefined ? Effect.fail(error) : Effect.void))
      if (progress.done === undefined && timedOut.error !== undefined) return yield* timedOut.error
      if (progress.done === undefined) {
        return yield* new EngineAdapter.EngineFailure({ url: lease.url, reason: "stream ended before the final event" })
      }
      const done = progress.done
      const endedAt = yield* Clock.currentTimeMillis
      const ended = yield* Effect.sync(() => {
        // the engine's own counts, when it reports them, over the estimate and the pieces counted
        if (done.tokensIn !== undefined) record.tokensIn = done.tokensIn
        if (done.tokensOut !== undefined) record.tokensOut = done.tokensOut
        const event: End = {
          _tag: "end",
          tokensOut: record.tokensOut,
          tokensIn: record.tokensIn,
          decodeTimeMs: endedAt - leasedAt,
          decodeMs: done.decodeMs ?? endedAt - (progress.firstTokenAt ?? endedAt),
          ...(done.finishReason === undefined ? {} : { finishReason: done.finishReason }),
          ...(done.systemFingerprint === undefined ? {} : { systemFingerprint: done.systemFingerprint })
        }
        if (!emit(record, event, endedAt)) return false
        ctx.onEnded(record, endedAt - leasedAt, endedAt)
        return true
      })
      if (ended) {
        recordMetric(OrchestratorMetrics.tokensIn, record.tokensIn, poolLabels)
        recordMetric(OrchestratorMetrics.tokensOut, record.tokensOut, poolLabels)
        recordMetric(OrchestratorMetrics.latencyDecode, (endedAt - leasedAt) / 1000, poolLabels)
        // `whenLogLevel` first: annotating costs an acquire-use-release even when the line is dropped
        yield* Effect.whenLogLevel(
          Effect.logDebug("Task ended.").pipe(
            Effect.annotateLogs({ engine: lease.engine, tokens_out: record.tokensOut, decode_ms: endedAt - leasedAt })
          ),
          "Debug"
        )
      }
      return true
    }))
  }).pipe(
    Effect.catchTags({
      LeaseRefused: (e) => Effect.logDebug(`Lease refused; the task waits again: ${e.reason}`).pipe(Effect.as(false)),
      EngineFailure: (e) => placeAgain(record, poolId, e),
      WatchdogTimeout: (e) => failed(record, "DECODE_TIMEOUT", e.reason, e.retriable)
    })
  )

/**
 * An engine that failed before the task's first token (a dead node, a crashed engine, a 5xx; not
 * an engine that refused the request with a 4xx or answered something unreadable) gets the task placed again, once: it answers
 * `false`, and the task waits for a pool again (the failed one is skipped for a moment). Otherwise
 * the task ends with the retriable `WORKER_RESET`.
 */
const placeAgain = (record: TaskRecord, poolId: PoolId, error: EngineAdapter.EngineFailure) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const refused = (error.status !== undefined && error.status < 500) || error.malformed === true
    if (record.terminal || record.tokensOut > 0 || record.replaced > 0 || refused) {
      return failed(record, "WORKER_RESET", error.message, true)
    }
    record.replaced++
    record.poolId = undefined
    record.engine = undefined
    record.startedAt = undefined
    return emit(record, { _tag: "requeued", poolId, reason: error.message }, now)
      ? Effect.logWarning(`Engine failed before the first token; the task is placed again: ${error.message}`).pipe(
        Effect.as(false)
      )
      : Effect.succeed(true)
  })

/** Ends the task with an error and says so in the log, unless it had already ended (cancelled). */
const failed = (record: TaskRecord, code: "WORKER_RESET" | "DECODE_TIMEOUT", message: string, retriable: boolean) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    fail(record, now, code, message, retriable)
      ? Effect.logWarning(`Task failed with ${code}: ${message}`).pipe(
        Effect.annotateLogs({ code, engine: record.engine ?? "" }),
        Effect.as(true)
      )
      : Effect.succeed(true))
