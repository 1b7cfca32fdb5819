/**
 * The implementation of the `Orchestrator` service: admission, queues, dispatch, task logs,
 * subscriptions and shutdown.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { type Loading as PoolLoading, PoolManager, type PoolStatus } from "@llama-orch/pool-core"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberHandle from "effect/FiberHandle"
import * as FiberMap from "effect/FiberMap"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as AdmissionCheck from "../AdmissionCheck.js"
import * as Embeddings from "../Embeddings.js"
import * as EngineTransport from "../EngineTransport.js"
import type { OrchestratorService } from "../Orchestrator.js"
import * as OrchestratorMetrics from "../OrchestratorMetrics.js"
import type { OrchestratorOptions } from "../OrchestratorOptions.js"
import { servedModel } from "../PlacementPolicy.js"
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
import { type Loading, Started } from "../TaskEvent.js"
import { TaskRequest } from "../TaskRequest.js"
import { Admission } from "../TaskSnapshot.js"
import { MetricLabels, record as recordMetric } from "./metricLabels.js"
import { ModelLoads } from "./modelLoads.js"
import { type Launch, ModelQueues } from "./modelQueues.js"
import { PoolView } from "./poolView.js"
import { runTask } from "./runner.js"
import { singleFlight } from "./singleFlight.js"
import { emit, fail, follow, makeRecord, snapshot, subscribe, type TaskRecord } from "./taskLog.js"
import { TaskWatchers } from "./taskWatchers.js"
import { ZeroSeries } from "./zeroSeries.js"

/** How long building the layer waits for the pool manager's first snapshot. */
const snapshotWaitMs = 5_000

/** Builds the orchestrator service; everything it starts lives in the surrounding scope. */
export const make = (
  options: OrchestratorOptions
): Effect.Effect<OrchestratorService, never, PoolManager | HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const pools = yield* PoolManager
    const scope = yield* Effect.scope
    // resolved once: the dispatcher also runs on the submitting caller's fiber, whose context is
    // the caller's
    const transport = yield* EngineTransport.current
    const tasks = new Map<string, TaskRecord>()
    const view = new PoolView(options.initialServiceTimeMs, options.serviceTimeAlpha)
    const sessions = new Sessions({
      ttlMs: options.sessionTtlMs,
      maxTurns: options.sessionMaxTurns,
      tokenBudget: options.sessionTokenBudget
    })
    const state = { shuttingDown: false }
    const wakeups = yield* Queue.sliding<void>(1)
    const wake = () => void wakeups.unsafeOffer(undefined)
    const runners = yield* FiberMap.make<string>()

    const queues = new ModelQueues(options, view, sessions)
    const queueDepths = (): ReadonlyMap<string, number> =>
      new Map(Array.from(queues.byModel, ([model, queue]) => [model, queue.size]))
    const watchers = new TaskWatchers(queueDepths)
    const retryAfter = (model: string) => view.retryAfter(model)
    const labels = new MetricLabels()
    const count = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, input: In, key: string, value: string) =>
      Effect.sync(() => recordMetric(metric, input, labels.of([key, value])))
    const reportDepth = (model: string) => count(OrchestratorMetrics.queueDepth, queues.depth(model), "model", model)
    const zeroSeries = new ZeroSeries(labels)
    zeroSeries.atStart(options.policy)
    const loads = new ModelLoads(
      pools,
      options,
      view,
      queues,
      labels,
      yield* FiberMap.make<string>(),
      yield* FiberHandle.make(),
      wake
    )
    const loadable = (model: string) => loads.loadable(model)

    const runContext = {
      pools,
      transport,
      options,
      dispatchInfo: (record: TaskRecord, now: number) => ({
        queueDepth: queues.depth(record.model),
        onTimeProbability: queues.onTime(record, now, 0)
      }),
      labels,
      onEnded: (record: TaskRecord, ms: number, now: number) => {
        view.recordService(record.model, ms)
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
              view.block(poolId, now + options.leaseRetryMs)
              if (!record.terminal && !state.shuttingDown) queues.requeue(record)
              return Effect.sleep(options.leaseRetryMs).pipe(Effect.andThen(Effect.sync(wake)), Effect.forkIn(scope))
            })
          )
        ),
        Effect.ensuring(Effect.clockWith((clock) =>
          Effect.sync(() => {
            view.adjust(poolId, -1)
            loads.ended(record.model, clock.unsafeCurrentTimeMillis())
            // a freed slot matters only to a waiting task (a round with empty queues does nothing)
            if (queues.anyWaiting()) wake()
          })
        ))
      )

    const dispatchRound = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* loads.step(now)
      const launches = yield* Effect.sync(() => queues.plan(now, loads.hold, loadable))
      for (const l of launches) yield* FiberMap.run(runners, l.record.id, launch(l))
      for (const model of queues.byModel.keys()) yield* reportDepth(model)
    })

    yield* Queue.take(wakeups).pipe(
      Effect.zipRight(dispatchRound),
      Effect.forever,
      Effect.forkScoped
    )

    const firstSnapshot = yield* Deferred.make<void>()
    // a callback rather than a stream: every lease taken and given back is an event
    const clock = yield* Effect.clock
    /** Tells the model's queued tasks how a load they wait for goes, while no pool of it is Ready. */
    const announceLoading = (status: PoolStatus, loading: PoolLoading) => {
      const model = servedModel(status)
      const queue = queues.byModel.get(model)
      if (queue === undefined || queue.size === 0 || view.capacity(model).slots > 0) return
      const remainingMs = loading.remainingMs
      const event: Loading = {
        _tag: "loading",
        poolId: status.poolId,
        elapsedMs: loading.elapsedMs,
        ...(remainingMs === undefined ? {} : { etaMs: remainingMs }),
        ...(loading.fraction === undefined ? {} : { fraction: loading.fraction }),
        ...(loading.progress === undefined ? {} : { progress: loading.progress })
      }
      const now = clock.unsafeCurrentTimeMillis()
      for (const entry of queue.entries()) emit(entry.value, event, now)
    }
    // whether the view follows the manager's events now: admission checks against it then, with
    // no round trip; otherwise (not yet, or the stream is down) it asks the manager
    const feed = { live: false }
    yield* pools.watch((event) => {
      if (event._tag === "Snapshot") feed.live = true
      Deferred.unsafeDone(firstSnapshot, Exit.void)
      if (event._tag === "Snapshot") { for (const status of event.pools) zeroSeries.pool(status) }
      else zeroSeries.pool(event.status)
      const changed = view.apply(event)
      loads.observe(event, changed)
      if (changed && queues.anyWaiting()) wake()
      if (event._tag === "StatusChanged" && event.status.loading !== undefined) {
        announceLoading(event.status, event.status.loading)
      }
    }).pipe(
      Effect.catchAllCause(() => Effect.void),
      Effect.zipRight(Effect.sync(() => {
        feed.live = false
      })),
      Effect.zipRight(Effect.sleep(1_000)),
      Effect.forever,
      Effect.forkScoped
    )
    // predictions need the pools' slots from the start; a manager that does not answer in time is
    // picked up when its events arrive
    yield* Deferred.await(firstSnapshot).pipe(Effect.timeoutOption(snapshotWaitMs))
    // the models the manager loads on demand; a model asked for later that is not known here makes
    // it read again
    yield* loads.refresh.pipe(Effect.timeoutOption(snapshotWaitMs))

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
          queues.byModel.clear()
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

    const reject = <E extends SubmitError>(error: E) =>
      count(OrchestratorMetrics.tasksRejected, 1, "reason", OrchestratorMetrics.rejectionReasons[error._tag]).pipe(
        Effect.zipRight(Effect.fail(error))
      )

    // concurrent submits share one `list` (a round trip each against a remote pool manager)
    const listPools = singleFlight(pools.list)

    const backpressure = count(OrchestratorMetrics.admissionBackpressure, 1, "policy", options.policy)

    /** The request with its model named by public id (an alias resolved); undefined: not catalogued. */
    const resolve = (request: TaskRequest) =>
      Effect.gen(function*() {
        let id = loads.resolve(request.modelRef)
        if (id === undefined && !view.statuses().some((s) => servedModel(s) === request.modelRef)) {
          yield* loads.refresh
          id = loads.resolve(request.modelRef)
        }
        return id === undefined || id === request.modelRef
          ? request
          : new TaskRequest({ ...request, modelRef: id }, true)
      })

    const submit: OrchestratorService["submit"] = (original) =>
      Effect.gen(function*() {
        const request = yield* resolve(original)
        const model = request.modelRef
        // before the pools are asked: those embedded with the orchestrator shut down with it
        if (state.shuttingDown) return yield* reject(shuttingDown())
        const list = feed.live ? view.statuses() : yield* listPools.pipe(
          Effect.catchAll((e) => reject(new PoolsUnavailable({ reason: e.message, retryAfterMs: retryAfter(model) })))
        )
        const checked = AdmissionCheck.check(request, list, {
          allowPinning: options.allowPinning,
          retryAfterMs: retryAfter(model),
          catalogued: loads.loadable(model)
        })
        if (Either.isLeft(checked)) return yield* reject(checked.left)
        const now = yield* Clock.currentTimeMillis
        const outcome = yield* Effect.sync(() => admit(request, checked.right.tokensIn, now))
        if (outcome._tag === "Refused") {
          if (outcome.error._tag === "AdmissionRejected") yield* backpressure
          return yield* reject(outcome.error)
        }
        if (outcome.evicted) yield* backpressure
        yield* count(OrchestratorMetrics.tasksEnqueued, 1, "priority", request.priority)
        // dispatch at once rather than on the dispatcher's next turn, and let the launched task
        // take its lease and send its request before the caller goes on to answer its client
        yield* dispatchRound
        yield* Effect.yieldNow()
        return outcome.admission
      })

    const shuttingDown = () =>
      new PoolsUnavailable({ reason: "the orchestrator is shutting down", retryAfterMs: 1_000 })

    type Admit =
      | { readonly _tag: "Refused"; readonly error: SubmitError }
      | { readonly _tag: "Admitted"; readonly admission: Admission; readonly evicted: boolean }

    /** Session, queue and bookkeeping in one synchronous step. */
    const admit = (request: Parameters<OrchestratorService["submit"]>[0], tokensIn: number, now: number): Admit => {
      const model = request.modelRef
      if (state.shuttingDown) return { _tag: "Refused", error: shuttingDown() }
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
      const record = makeRecord(taskId, request, now, tokensIn, watchers.changed)
      const queue = queues.queueFor(model)
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
      const predicted = view.startIn(model, offered.position)
      record.position = offered.position
      emit(record, Started.make({ queuePosition: offered.position, predictedStartMs: predicted }), now)
      if (offered.evicted !== undefined) {
        fail(
          offered.evicted.value,
          now,
          "QUEUE_FULL_DROP_LRU",
          `evicted from the full queue of ${model}`,
          true,
          retryAfter(model)
        )
        queues.positionsChanged(model, now)
      }
      const backoffMs = offered.position < view.capacity(model).free ? 0 : retryAfter(model)
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
          const queued = queues.remove(record)
          const done = fail(record, now, "CANCELLED", "cancelled by the client", false)
          if (queued) queues.positionsChanged(record.model, now)
          return done
        })
        if (!cancelled) return
        yield* count(OrchestratorMetrics.tasksCanceled, 1, "priority", record.priority)
        yield* FiberMap.remove(runners, taskId)
        yield* reportDepth(record.model)
        wake()
      })

    return {
      submit,
      events: (taskId, opts) =>
        Stream.unwrap(lookup(taskId).pipe(Effect.map((record) => follow(record, opts?.afterId ?? 0)))),
      subscribe: (taskId, onEvent, opts) =>
        Effect.flatMap(lookup(taskId), (record) => subscribe(record, opts?.afterId ?? 0, onEvent)),
      cancel,
      get: (taskId) => lookup(taskId).pipe(Effect.map(snapshot)),
      queueDepths: Effect.sync(queueDepths),
      watchTasks: (onChange, opts) => watchers.watch(tasks.values(), onChange, opts?.limit ?? 50),
      embeddings: (name, body) =>
        Effect.gen(function*() {
          const model = loads.resolve(name) ?? name
          if (loads.loadable(model) && view.capacity(model).slots === 0) yield* loads.loadNow(model)
          return yield* Embeddings.forward(pools, transport, model, body)
        })
    }
  })
