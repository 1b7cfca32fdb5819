import type * as HttpClient from "@effect/platform/HttpClient"
import { type PoolId, PoolManager, type PoolStatus } from "@llama-orch/pool-core"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberMap from "effect/FiberMap"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Mutable } from "effect/Types"
import * as AdmissionCheck from "../Admission.js"
import type { OrchestratorService } from "../Orchestrator.js"
import * as OrchestratorMetrics from "../OrchestratorMetrics.js"
import type { OrchestratorOptions } from "../OrchestratorOptions.js"
import * as Placement from "../Placement.js"
import * as Predictions from "../Predictions.js"
import { Sessions } from "../Sessions.js"
import {
  AdmissionRejected,
  BudgetExceeded,
  InvalidParams,
  PoolsUnavailable,
  type SubmitError,
  TaskNotFound
} from "../TaskErrors.js"
import { Metrics, Started } from "../TaskEvent.js"
import { TaskQueue } from "../TaskQueue.js"
import { Admission } from "../TaskSnapshot.js"
import { runTask } from "./runner.js"
import { emit, fail, follow, makeRecord, snapshot, type TaskRecord } from "./taskLog.js"

/** How far down a queue dispatch looks for a task whose pinned pool is free. */
const scanLimit = 64

/** How long building the layer waits for the pool manager's first snapshot. */
const snapshotWaitMs = 5_000

interface Launch {
  readonly record: TaskRecord
  readonly poolId: PoolId
  readonly kvWarmth: boolean
}

/** Builds the orchestrator service; everything it starts lives in the surrounding scope. */
export const make = (
  options: OrchestratorOptions
): Effect.Effect<OrchestratorService, never, PoolManager | HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const pools = yield* PoolManager
    const scope = yield* Effect.scope
    const context = yield* Effect.context<HttpClient.HttpClient>()
    const tasks = new Map<string, TaskRecord>()
    const queues = new Map<string, TaskQueue<TaskRecord>>()
    const view = new Map<string, PoolStatus>()
    const inflight = new Map<string, number>()
    const blockedUntil = new Map<string, number>()
    const serviceMs = new Map<string, number>()
    const sessions = new Sessions({
      ttlMs: options.sessionTtlMs,
      maxTurns: options.sessionMaxTurns,
      tokenBudget: options.sessionTokenBudget
    })
    const state = { shuttingDown: false }
    const wakeups = yield* Queue.sliding<void>(1)
    const wake = () => void wakeups.unsafeOffer(undefined)
    const runners = yield* FiberMap.make<string>()

    // ---- pool view and predictions -------------------------------------------------------------
    const used = (poolId: string) => inflight.get(poolId) ?? 0
    const readyPools = (model: string) =>
      Array.from(view.values()).filter((p) => p.model === model && p.state === "Ready")
    const capacity = (model: string) => {
      let slots = 0
      let free = 0
      for (const p of readyPools(model)) {
        slots += p.slotsTotal
        free += Math.max(0, p.slotsTotal - used(p.poolId))
      }
      return { slots, free }
    }
    const meanService = (model: string) => serviceMs.get(model) ?? options.initialServiceTimeMs
    const retryAfter = (model: string) => Predictions.retryAfterMs(capacity(model).slots, meanService(model))
    const startIn = (model: string, position: number) => {
      const { free, slots } = capacity(model)
      return Predictions.predictedStartMs(position, free, slots, meanService(model))
    }
    const onTime = (record: TaskRecord, now: number, startMs: number) =>
      record.request.deadlineMs === undefined ? undefined : Predictions.onTimeProbability(
        record.request.deadlineMs - (now - record.submittedAt),
        startMs,
        meanService(record.model)
      )
    const candidates = (model: string, now: number): Array<Mutable<Placement.Candidate>> =>
      Array.from(view.values()).filter((p) => p.model === model).map((p) => ({
        poolId: p.poolId,
        model: p.model,
        state: (blockedUntil.get(p.poolId) ?? 0) > now ? "Backoff" : p.state,
        slotsFree: Math.max(0, p.slotsTotal - used(p.poolId)),
        activeLeases: used(p.poolId)
      }))

    const reportDepth = (model: string) =>
      Metric.set(OrchestratorMetrics.queueDepth.pipe(Metric.tagged("model", model)), queues.get(model)?.size ?? 0)

    const queueFor = (model: string) => {
      let queue = queues.get(model)
      if (queue === undefined) {
        queue = new TaskQueue<TaskRecord>(options.queueCapacity, options.policy)
        queues.set(model, queue)
      }
      return queue
    }

    /** Takes a record out of its queue; answers whether it was queued. */
    const dequeued = (queue: TaskQueue<TaskRecord>, record: TaskRecord): boolean => {
      const entry = record.entry
      record.entry = undefined
      return entry !== undefined && queue.remove(entry)
    }

    // ---- dispatch --------------------------------------------------------------------------------
    const positionsChanged = (model: string, now: number) => {
      const queue = queues.get(model)
      if (queue === undefined) return
      let position = 0
      for (const entry of queue.entries()) {
        const record = entry.value
        if (record.position !== position) {
          record.position = position
          const start = startIn(model, position)
          emit(
            record,
            new Metrics({
              queuePosition: position,
              queueDepth: queue.size,
              onTimeProbability: onTime(record, now, start)
            }),
            now
          )
        }
        position++
      }
    }

    const stillServed = (model: string) =>
      view.size === 0 ||
      Array.from(view.values()).some((p) =>
        p.model === model && (p.state === "Ready" || p.state === "Draining" || AdmissionCheck.comingUp.has(p.state))
      )

    /** Decides, synchronously, which queued tasks go where now. */
    const plan = (now: number): Array<Launch> => {
      const launches: Array<Launch> = []
      for (const [model, queue] of queues) {
        if (queue.size === 0) continue
        const served = stillServed(model)
        const pool = candidates(model, now)
        const ended: Array<TaskRecord> = []
        let scanned = 0
        for (const entry of queue.entries()) {
          if (scanned++ >= scanLimit) break
          const record = entry.value
          const pin = record.request.placement?.pinPoolId
          const last = record.request.sessionId === undefined
            ? undefined
            : sessions.get(record.request.sessionId, now)?.lastPoolId
          const decision = Placement.place(pool, { model, pinPoolId: pin, lastPoolId: last })
          if (decision._tag === "Placed") {
            launches.push({ record, poolId: decision.poolId, kvWarmth: decision.kvWarmth })
            inflight.set(decision.poolId, used(decision.poolId) + 1)
            const chosen = pool.find((p) => p.poolId === decision.poolId)
            if (chosen !== undefined) {
              chosen.slotsFree--
              chosen.activeLeases++
            }
            ended.push(record)
          } else if (decision._tag === "PinInvalid") {
            fail(record, now, "INVALID_PARAMS", `pinned pool ${decision.poolId}: ${decision.reason}`, false)
            ended.push(record)
          } else if (decision._tag === "PinUnready" && !AdmissionCheck.comingUp.has(decision.state)) {
            fail(
              record,
              now,
              "POOL_UNREADY",
              `pinned pool ${decision.poolId} is ${decision.state}`,
              true,
              retryAfter(model)
            )
            ended.push(record)
          } else if (pin === undefined) {
            if (!served) {
              fail(
                record,
                now,
                "POOL_UNREADY",
                `no pool serving ${model} is ready or starting`,
                true,
                retryAfter(model)
              )
              ended.push(record)
            } else {
              break
            }
          }
        }
        for (const record of ended) dequeued(queue, record)
        if (ended.length > 0) positionsChanged(model, now)
      }
      return launches
    }

    const runContext = {
      pools,
      options,
      dispatchInfo: (record: TaskRecord, now: number) => ({
        queueDepth: queues.get(record.model)?.size ?? 0,
        onTimeProbability: onTime(record, now, 0)
      }),
      onEnded: (record: TaskRecord, ms: number, now: number) => {
        serviceMs.set(record.model, Predictions.ewma(meanService(record.model), ms, options.serviceTimeAlpha))
        if (record.request.sessionId !== undefined) {
          sessions.recordEnd(record.request.sessionId, now, record.tokensIn + record.tokensOut, record.poolId)
        }
      }
    }

    const launch = ({ kvWarmth, poolId, record }: Launch) =>
      runTask(runContext, record, poolId, kvWarmth).pipe(
        Effect.flatMap((finished) =>
          finished ? Effect.void : Clock.currentTimeMillis.pipe(
            Effect.flatMap((now) => {
              blockedUntil.set(poolId, now + options.leaseRetryMs)
              if (!record.terminal && !state.shuttingDown) {
                record.state = "queued"
                record.entry = queueFor(record.model).pushFront(record.id, record, record.priority)
              }
              return Effect.sleep(options.leaseRetryMs).pipe(Effect.andThen(Effect.sync(wake)), Effect.forkIn(scope))
            })
          )
        ),
        Effect.ensuring(Effect.sync(() => {
          inflight.set(poolId, Math.max(0, used(poolId) - 1))
          wake()
        })),
        Effect.provide(context)
      )

    const dispatchRound = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const launches = yield* Effect.sync(() => plan(now))
      for (const l of launches) yield* FiberMap.run(runners, l.record.id, launch(l))
      for (const model of queues.keys()) yield* reportDepth(model)
    })

    yield* Queue.take(wakeups).pipe(
      Effect.zipRight(dispatchRound),
      Effect.forever,
      Effect.forkScoped
    )

    const firstSnapshot = yield* Deferred.make<void>()
    yield* pools.events.pipe(
      Stream.runForEach((event) =>
        Effect.sync(() => {
          Deferred.unsafeDone(firstSnapshot, Exit.void)
          if (event._tag === "Snapshot") {
            view.clear()
            for (const p of event.pools) view.set(p.poolId, p)
          } else {
            view.set(event.status.poolId, event.status)
          }
          wake()
        })
      ),
      Effect.catchAllCause(() => Effect.void),
      Effect.zipRight(Effect.sleep(1_000)),
      Effect.forever,
      Effect.forkScoped
    )
    // predictions need the pools' slots from the start; a manager that does not answer in time is
    // picked up when its events arrive
    yield* Deferred.await(firstSnapshot).pipe(Effect.timeoutOption(snapshotWaitMs))

    yield* Clock.currentTimeMillis.pipe(
      Effect.flatMap((now) =>
        Effect.sync(() => {
          sessions.sweep(now)
          for (const [id, record] of tasks) {
            if (record.endedAt !== undefined && record.endedAt + options.retentionMs <= now) tasks.delete(id)
          }
        })
      ),
      Effect.repeat(Schedule.spaced("10 seconds")),
      Effect.forkScoped
    )

    yield* Effect.addFinalizer(() =>
      Clock.currentTimeMillis.pipe(Effect.flatMap((now) =>
        Effect.sync(() => {
          state.shuttingDown = true
          for (const record of tasks.values()) {
            fail(record, now, "CANCELLED", "the orchestrator shut down", true)
          }
          queues.clear()
        })
      ))
    )

    // ---- operations ----------------------------------------------------------------------------
    const lookup = (taskId: string) =>
      Clock.currentTimeMillis.pipe(Effect.flatMap((now) => {
        const record = tasks.get(taskId)
        if (record === undefined) return Effect.fail(new TaskNotFound({ taskId }))
        if (record.endedAt !== undefined && record.endedAt + options.retentionMs <= now) {
          tasks.delete(taskId)
          return Effect.fail(new TaskNotFound({ taskId }))
        }
        return Effect.succeed(record)
      }))

    const reject = <E extends SubmitError>(error: E, reason: string) =>
      Metric.update(OrchestratorMetrics.tasksRejected.pipe(Metric.tagged("reason", reason)), 1).pipe(
        Effect.zipRight(Effect.fail(error))
      )

    const backpressure = Metric.update(
      OrchestratorMetrics.admissionBackpressure.pipe(Metric.tagged("policy", options.policy)),
      1
    )

    const submit: OrchestratorService["submit"] = (request) =>
      Effect.gen(function*() {
        const model = request.modelRef
        if (state.shuttingDown) {
          return yield* reject(
            new PoolsUnavailable({ reason: "the orchestrator is shutting down", retryAfterMs: 1_000 }),
            "POOL_UNAVAILABLE"
          )
        }
        const list = yield* pools.list.pipe(
          Effect.catchAll((e) =>
            reject(new PoolsUnavailable({ reason: e.message, retryAfterMs: retryAfter(model) }), "POOL_UNAVAILABLE")
          )
        )
        const checked = AdmissionCheck.check(request, list, {
          allowPinning: options.allowPinning,
          retryAfterMs: retryAfter(model)
        })
        if (Either.isLeft(checked)) return yield* reject(checked.left, codeOf(checked.left._tag))
        const now = yield* Clock.currentTimeMillis
        const outcome = yield* Effect.sync(() => admit(request, checked.right.tokensIn, now))
        if (outcome._tag === "Refused") {
          if (outcome.error._tag === "AdmissionRejected") yield* backpressure
          return yield* reject(outcome.error, codeOf(outcome.error._tag))
        }
        if (outcome.evicted) yield* backpressure
        yield* Metric.update(OrchestratorMetrics.tasksEnqueued.pipe(Metric.tagged("priority", request.priority)), 1)
        yield* reportDepth(model)
        wake()
        return outcome.admission
      })

    type Admit =
      | { readonly _tag: "Refused"; readonly error: SubmitError }
      | { readonly _tag: "Admitted"; readonly admission: Admission; readonly evicted: boolean }

    /** Session, queue and bookkeeping in one synchronous step. */
    const admit = (request: Parameters<OrchestratorService["submit"]>[0], tokensIn: number, now: number): Admit => {
      const model = request.modelRef
      const taskId = request.taskId ?? crypto.randomUUID()
      if (tasks.has(taskId)) {
        return {
          _tag: "Refused",
          error: new InvalidParams({ field: "task_id", reason: `task ${taskId} already exists` })
        }
      }
      const sessionId = request.sessionId
      if (sessionId !== undefined) {
        const refused = sessions.check(sessionId, now)
        if (refused?._tag === "BudgetExceeded") {
          const error = new BudgetExceeded({
            sessionId,
            budget: refused.budget,
            used: refused.used,
            retryAfterMs: Predictions.clampRetryAfter(refused.expiresInMs)
          })
          return { _tag: "Refused", error }
        }
        if (refused?._tag === "TooManyTurns") {
          const reason = `session reached its limit of ${refused.maxTurns} turns; start a new session`
          return { _tag: "Refused", error: new InvalidParams({ field: "session_id", reason }) }
        }
      }
      const record = makeRecord(taskId, request, now, tokensIn)
      const queue = queueFor(model)
      const offered = queue.offer(taskId, record, request.priority)
      if (offered._tag === "Rejected") {
        const error = new AdmissionRejected({
          model,
          policy: options.policy,
          queueDepth: queue.size,
          retryAfterMs: retryAfter(model)
        })
        return { _tag: "Refused", error }
      }
      record.entry = offered.entry
      if (sessionId !== undefined) sessions.beginTurn(sessionId, now)
      tasks.set(taskId, record)
      const predicted = startIn(model, offered.position)
      record.position = offered.position
      emit(record, new Started({ queuePosition: offered.position, predictedStartMs: predicted }), now)
      if (offered.evicted !== undefined) {
        fail(
          offered.evicted.value,
          now,
          "QUEUE_FULL_DROP_LRU",
          `evicted from the full queue of ${model}`,
          true,
          retryAfter(model)
        )
        positionsChanged(model, now)
      }
      const backoffMs = offered.position < capacity(model).free ? 0 : retryAfter(model)
      const admission = new Admission({
        taskId,
        queuePosition: offered.position,
        predictedStartMs: predicted,
        backoffMs
      })
      return { _tag: "Admitted", admission, evicted: offered.evicted !== undefined }
    }

    const cancel: OrchestratorService["cancel"] = (taskId) =>
      Effect.gen(function*() {
        const record = yield* lookup(taskId)
        const now = yield* Clock.currentTimeMillis
        const cancelled = yield* Effect.sync(() => {
          const queue = queues.get(record.model)
          const queued = queue !== undefined && dequeued(queue, record)
          const done = fail(record, now, "CANCELLED", "cancelled by the client", false)
          if (queued) positionsChanged(record.model, now)
          return done
        })
        if (!cancelled) return
        yield* Metric.update(OrchestratorMetrics.tasksCanceled.pipe(Metric.tagged("priority", record.priority)), 1)
        yield* FiberMap.remove(runners, taskId)
        yield* reportDepth(record.model)
        wake()
      })

    return {
      submit,
      events: (taskId, opts) =>
        Stream.unwrap(lookup(taskId).pipe(Effect.map((record) => follow(record, opts?.afterId ?? 0)))),
      cancel,
      get: (taskId) => lookup(taskId).pipe(Effect.map(snapshot)),
      queueDepths: Effect.sync(() => new Map(Array.from(queues, ([model, queue]) => [model, queue.size])))
    }
  })

const codeOf = (tag: SubmitError["_tag"]): string => {
  switch (tag) {
    case "InvalidParams":
      return "INVALID_PARAMS"
    case "ModelNotFound":
      return "MODEL_NOT_FOUND"
    case "AdmissionRejected":
      return "ADMISSION_REJECT"
    case "BudgetExceeded":
      return "BUDGET_EXCEEDED"
    case "NoReadyPool":
      return "POOL_UNREADY"
    case "PoolsUnavailable":
      return "POOL_UNAVAILABLE"
  }
}
