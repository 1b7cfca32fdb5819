/**
 * On-demand loads of catalogued models: a task queued for a model with no Ready pool asks the pool
 * manager to load it (one load per model, keeping the models that still have queued work), waits
 * for it within its deadline and the queue's `maxLoadWaitMs`, cancels it when its last waiter
 * leaves, and fails the model's queued tasks when it fails.
 *
 * @internal
 */
import {
  type InsufficientMemory,
  LoadOptions,
  type ModelLoadFailed as PoolModelLoadFailed,
  type ModelNotFound as PoolModelNotFound,
  type ModelStatus,
  type PoolEvent,
  type PoolManagerService,
  type TransportError
} from "@llama-orch/pool-core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberHandle from "effect/FiberHandle"
import * as FiberMap from "effect/FiberMap"
import * as ModelGrouping from "../ModelGrouping.js"
import * as OrchestratorMetrics from "../OrchestratorMetrics.js"
import type { OrchestratorOptions } from "../OrchestratorOptions.js"
import { ModelLoadFailed } from "../TaskErrors.js"
import { type MetricLabels, record as recordMetric } from "./metricLabels.js"
import type { ModelQueues } from "./modelQueues.js"
import type { PoolView } from "./poolView.js"
import { singleFlight } from "./singleFlight.js"
import { fail, type TaskRecord } from "./taskLog.js"

/** How long after a load refused while keeping nothing it is asked again, when nothing was freed. */
const refusalRetryMs = 1_000

/**
 * How long a model counts as busy after its last task ended (at most `modelAgingMs`): a client
 * sending its next request is not a drained queue.
 */
const drainGraceMs = 500

/** How long a finished load counts as loading until the manager's events show its pool. */
const landingMs = 5_000

type LoadError = PoolModelNotFound | PoolModelLoadFailed | InsufficientMemory | TransportError

/** What a failed load tells the tasks that waited for it. */
const failureMessage = (model: string, error: Exclude<LoadError, InsufficientMemory>): string => {
  switch (error._tag) {
    case "ModelNotFound":
      return `model ${model} is no longer in the pool manager's catalog`
    case "ModelLoadFailed": {
      const tail = error.stderrTail?.trim().split("\n").at(-1)
      return `model ${model} failed to load: ${error.reason}${tail === undefined || tail === "" ? "" : ` (${tail})`}`
    }
    case "PoolManagerUnavailable":
    case "Unauthorized":
      return `model ${model} could not be loaded: the pool manager did not answer: ${error.message}`
  }
}

/**
 * On-demand loads: the catalog of servable models (ids and aliases), the loads in flight (one per
 * model, interrupted when its last waiting task leaves), refusals for lack of memory and the
 * grouping decisions over them, and the expiry of tasks that waited too long for a load.
 */
export class ModelLoads {
  /** Public id by id and by alias. */
  private catalog = new Map<string, string>()
  /** The catalogued models: those the manager loads on demand (not the models of fixed pools). */
  private onDemand = new Set<string>()
  private readonly refused = new Map<string, ModelGrouping.Refusal>()
  private readonly loadStarted = new Map<string, number>()
  /** When each model's last task ended. */
  private readonly lastEnded = new Map<string, number>()
  /** Loads that succeeded, until the pool view shows the model served. */
  private readonly landed = new Map<string, number>()
  /** Models whose queued tasks are not dispatched for now (see `ModelGrouping`). */
  hold: ReadonlySet<string> = new Set()
  private wakeAt: number | undefined
  /** The catalog read once for concurrent callers. */
  readonly refresh: Effect.Effect<void>

  constructor(
    private readonly pools: PoolManagerService,
    private readonly options: OrchestratorOptions,
    private readonly view: PoolView,
    private readonly queues: ModelQueues,
    private readonly labels: MetricLabels,
    private readonly inflight: FiberMap.FiberMap<string>,
    private readonly timer: FiberHandle.FiberHandle,
    private readonly wake: () => void
  ) {
    this.refresh = singleFlight(
      pools.models.pipe(
        Effect.tap((models) => Effect.sync(() => this.learn(models))),
        Effect.ignore
      )
    )
  }

  /** Replaces the catalog with the manager's models. */
  learn(models: ReadonlyArray<ModelStatus>): void {
    const catalog = new Map<string, string>()
    this.onDemand = new Set(models.filter((m) => !m.fixed).map((m) => m.id))
    for (const m of models) {
      catalog.set(m.id, m.id)
      for (const alias of m.aliases) if (!catalog.has(alias)) catalog.set(alias, m.id)
    }
    this.catalog = catalog
  }

  /** The public id a model name (an id or an alias) stands for, when catalogued. */
  resolve(name: string): string | undefined {
    return this.catalog.get(name)
  }

  /** Whether the manager can load the model on demand. */
  loadable(model: string): boolean {
    return this.onDemand.has(model)
  }

  /**
   * Loads the model now, for a request that does not queue (embeddings), bounded by
   * `maxLoadWaitMs`.
   */
  loadNow(model: string): Effect.Effect<void, ModelLoadFailed> {
    const retryAfterMs = this.view.retryAfter(model)
    return this.pools.load(model, new LoadOptions({ keep: [] })).pipe(
      Effect.timeoutFail({
        duration: this.options.maxLoadWaitMs,
        onTimeout: () =>
          new ModelLoadFailed({
            model,
            reason: `model ${model} did not load within max_load_wait_ms (${this.options.maxLoadWaitMs} ms)`,
            retryAfterMs
          })
      }),
      Effect.mapError((error) =>
        error._tag === "ModelLoadFailed" && error instanceof ModelLoadFailed
          ? error
          : error._tag === "InsufficientMemory"
          ? new ModelLoadFailed({ model, reason: error.message, retryAfterMs })
          : new ModelLoadFailed({
            model,
            reason: failureMessage(model, error),
            // the manager unreachable: retry; the engine failed or the model is gone: do not
            ...(error._tag === "PoolManagerUnavailable" || error._tag === "Unauthorized" ? { retryAfterMs } : {})
          })
      ),
      Effect.asVoid
    )
  }

  /** Notes that a task of the model ended (it counts as busy a moment longer). */
  ended(model: string, now: number): void {
    this.lastEnded.set(model, now)
  }

  /** Notes a pool event: memory may have been freed for loads refused for lack of it. */
  observe(event: PoolEvent, changed: boolean): void {
    if (this.refused.size === 0 || event._tag === "Snapshot") return
    const removed = event.reason === "removed"
    if (!removed && !changed) return
    for (const [model, refusal] of this.refused) {
      // a lease given back can free only a load that kept nothing; a removed pool frees memory
      if (removed || refusal.keep.length === 0) this.refused.set(model, { ...refusal, freed: true })
    }
  }

  /**
   * One decision step, before dispatch: ends tasks that waited too long for a load, interrupts
   * loads nobody waits for any more, asks for the loads grouping decides, and sets the timer.
   */
  step(now: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      const waiting: Array<ModelGrouping.Waiting> = []
      const busy = new Map<string, number>()
      const grace = Math.min(drainGraceMs, this.options.modelAgingMs)
      const abandoned: Array<string> = []
      let expiresAt: number | undefined
      for (const [model, queue] of this.queues.byModel) {
        const ready = this.view.capacity(model).slots > 0
        if (ready) {
          if (queue.size > 0 || this.view.inUse(model) > 0) busy.set(model, Infinity)
          else {
            const until = (this.lastEnded.get(model) ?? -Infinity) + grace
            if (until > now) busy.set(model, until)
          }
          continue
        }
        if (!this.loadable(model)) continue
        const next = this.expire(model, now)
        if (next !== undefined) expiresAt = expiresAt === undefined ? next : Math.min(expiresAt, next)
        if (queue.size === 0) {
          // every task waiting for the load left: the manager may cancel it
          if (FiberMap.unsafeHas(this.inflight, model)) abandoned.push(model)
          this.refused.delete(model)
          continue
        }
        if (!this.view.served(model)) {
          let oldestAt = now
          for (const entry of queue.entries()) oldestAt = Math.min(oldestAt, entry.value.submittedAt)
          waiting.push({ model, oldestAt })
        }
      }
      const loading = new Set(this.loadStarted.keys())
      for (const [model, at] of this.landed) {
        if (this.view.served(model) || now >= at + landingMs) this.landed.delete(model)
        else loading.add(model)
      }
      const decided = ModelGrouping.plan({
        now,
        agingMs: this.options.modelAgingMs,
        retryMs: refusalRetryMs,
        waiting,
        busy,
        loading,
        refused: this.refused
      })
      this.hold = decided.hold
      const wakeAt = [decided.wakeAt, expiresAt].reduce<number | undefined>(
        (a, b) => a === undefined ? b : b === undefined ? a : Math.min(a, b),
        undefined
      )
      // interrupted without waiting: the dispatcher goes on while the manager cancels the load
      const interrupt = (model: string) =>
        FiberMap.get(this.inflight, model).pipe(Effect.flatMap(Fiber.interruptFork), Effect.ignore)
      return Effect.forEach(abandoned, interrupt, { discard: true }).pipe(
        Effect.zipRight(Effect.forEach(decided.loads, (call) => this.start(call, now), { discard: true })),
        Effect.zipRight(this.schedule(wakeAt, now))
      )
    })
  }

  /** Ends the model's queued tasks past their deadline or the longest load wait; answers the next expiry. */
  private expire(model: string, now: number): number | undefined {
    const queue = this.queues.byModel.get(model)
    if (queue === undefined) return undefined
    const ended: Array<TaskRecord> = []
    let next: number | undefined
    for (const entry of queue.entries()) {
      const record = entry.value
      const deadline = record.request.deadlineMs
      const deadlineAt = deadline === undefined ? Infinity : record.submittedAt + deadline
      const loadWaitAt = record.submittedAt + this.options.maxLoadWaitMs
      if (now >= deadlineAt && deadlineAt <= loadWaitAt) {
        fail(record, now, "DECODE_TIMEOUT", `deadline of ${deadline} ms passed while ${model} loaded`, false)
        ended.push(record)
      } else if (now >= loadWaitAt) {
        const reason = `model ${model} did not load within max_load_wait_ms (${this.options.maxLoadWaitMs} ms)`
        fail(record, now, "MODEL_LOAD_FAILED", reason, true, this.view.retryAfter(model))
        ended.push(record)
      } else {
        const at = Math.min(deadlineAt, loadWaitAt)
        next = next === undefined ? at : Math.min(next, at)
      }
    }
    this.endAll(model, ended, now)
    return next
  }

  private endAll(model: string, ended: ReadonlyArray<TaskRecord>, now: number): void {
    for (const record of ended) this.queues.remove(record)
    if (ended.length > 0) this.queues.positionsChanged(model, now)
  }

  /** Sleeps until `at`, then wakes the dispatcher (the previous timer is replaced). */
  private schedule(at: number | undefined, now: number): Effect.Effect<void> {
    if (at === this.wakeAt) return Effect.void
    this.wakeAt = at
    if (at === undefined) return FiberHandle.clear(this.timer)
    const wake = this.wake
    return FiberHandle.run(
      this.timer,
      Effect.sleep(Math.max(0, at - now)).pipe(
        Effect.zipRight(Effect.sync(() => {
          this.wakeAt = undefined
          wake()
        }))
      )
    ).pipe(Effect.asVoid)
  }

  /** Asks the manager for one load, in a fiber of its own (interrupted when nobody waits any more). */
  private start(call: ModelGrouping.LoadCall, now: number): Effect.Effect<void> {
    const { keep, model } = call
    this.loadStarted.set(model, now)
    this.refused.delete(model)
    recordMetric(OrchestratorMetrics.modelLoads, 1, this.labels.of(["model", model]))
    const load = this.pools.load(model, new LoadOptions({ keep })).pipe(
      Effect.tapError((error) => Effect.logDebug(`on-demand load of ${model} did not succeed: ${error.message}`)),
      Effect.onExit((exit) =>
        Effect.clockWith((clock) =>
          Effect.sync(() => {
            const at = clock.unsafeCurrentTimeMillis()
            const outcome = this.settle(model, keep, exit, at)
            recordMetric(
              OrchestratorMetrics.modelLoadWait,
              (at - now) / 1000,
              this.labels.of(["model", model], ["outcome", outcome])
            )
            this.wake()
          })
        )
      ),
      Effect.ignore
    )
    return Effect.logDebug(`loading model ${model} on demand`).pipe(
      Effect.annotateLogs({ model, keep: keep.join(",") }),
      Effect.zipRight(FiberMap.run(this.inflight, model, load)),
      Effect.asVoid
    )
  }

  /** Applies a load's outcome; answers its label. */
  private settle(
    model: string,
    keep: ReadonlyArray<string>,
    exit: Exit.Exit<unknown, LoadError>,
    now: number
  ): "loaded" | "refused" | "failed" | "abandoned" {
    this.loadStarted.delete(model)
    if (Exit.isSuccess(exit)) {
      this.landed.set(model, now)
      return "loaded"
    }
    const error = Cause.failureOption(exit.cause)
    if (error._tag === "None") return "abandoned"
    if (error.value._tag === "InsufficientMemory") {
      this.refused.set(model, { keep, at: now, freed: false })
      return "refused"
    }
    const message = failureMessage(model, error.value)
    const queue = this.queues.byModel.get(model)
    const ended: Array<TaskRecord> = []
    // the engine failed or the model left the catalog: asking again is unlikely to help
    const retriable = error.value._tag === "PoolManagerUnavailable" || error.value._tag === "Unauthorized"
    for (const entry of queue?.entries() ?? []) {
      fail(entry.value, now, "MODEL_LOAD_FAILED", message, retriable, this.view.retryAfter(model))
      ended.push(entry.value)
    }
    this.endAll(model, ended, now)
    return "failed"
  }
}
