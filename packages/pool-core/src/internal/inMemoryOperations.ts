/**
 * The lifecycle operations of the in-memory manager — preload, drain, reload, shutdown — over
 * scripted engine starts: the embedded manager's plans and state transitions without processes.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberMap from "effect/FiberMap"
import * as HashMap from "effect/HashMap"
import * as Scope from "effect/Scope"
import type { InMemoryOptions } from "../InMemoryPoolManager.js"
import { PreloadFailed, ReloadFailed } from "../PoolErrors.js"
import type { PoolId } from "../PoolId.js"
import { DrainOutcome, type ReloadOptions, ReloadOutcome } from "../PoolManager.js"
import { Handoff } from "../PoolStatus.js"
import { current, type PoolCell, type Publisher, update } from "./context.js"
import { markStarting } from "./launcher.js"
import { drainPlan, LifecycleEvent } from "./lifecycle.js"
import { awaitLeases } from "./operations.js"
import { advance, invalidateLeases, lastErrorOf, lastErrorOfPreload, type PoolData, preloadStep } from "./poolState.js"
import { emptyHistory } from "./restartPolicy.js"

/** One pool of the in-memory manager: closing `scope` interrupts its operations. */
export interface MemoryPool extends PoolCell {
  readonly scope: Scope.CloseableScope
}

/** What the operations share: the change feed, the options, the scripted failures. */
export interface MemoryContext extends Publisher {
  readonly options: InMemoryOptions
  /** Models whose starts fail. */
  readonly failing: Set<string>
  /** Set when the manager's scope starts closing: no new pools, no new engines. */
  readonly state: { closing: boolean }
  /** The pending restart of each crashed pool (see `restartAfter`). */
  readonly restarts: FiberMap.FiberMap<PoolId>
}

/** Cancels the pool's pending restart, as the embedded manager stops its supervisor. */
export const cancelRestart = (ctx: MemoryContext, pool: MemoryPool): Effect.Effect<void> =>
  FiberMap.remove(ctx.restarts, pool.id)

const noLeasesLeft = { forceStopped: false, leasesAtDeadline: 0 }

/** A scripted engine start: `startupMs` on the clock (none when `instant`), then up or failed. */
const start = (ctx: MemoryContext, pool: MemoryPool, model: string, instant = false) =>
  Effect.gen(function*() {
    const failure = (reason: string) =>
      new PreloadFailed({ poolId: pool.id, engine: pool.profile.name, kind: "SpawnFailed", reason })
    if (ctx.state.closing) return yield* failure("the pool manager is shutting down")
    if (!instant && ctx.options.startupMs > 0) yield* Effect.sleep(ctx.options.startupMs)
    if (ctx.state.closing) return yield* failure("the pool manager is shutting down")
    if (!ctx.failing.has(model)) return
    return yield* new PreloadFailed({
      poolId: pool.id,
      engine: pool.profile.name,
      kind: "EngineExited",
      reason: "the engine exited with code 1 before it was ready",
      exitCode: 1,
      stderrTail: `error loading model ${model}: a failing model of the in-memory pool manager`
    })
  })

/** Makes a started engine on `model` the pool's engine: generation + 1, a new handoff, Ready (`restarted`: restarts + 1). */
export const promote = (ctx: MemoryContext, pool: MemoryPool, model: string, reason: string, restarted = false) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const generation = (yield* current(pool)).generation + 1
    const handoff = new Handoff({
      poolId: pool.id,
      replicaId: `${pool.id}-${generation}`,
      engine: pool.profile.name,
      protocol: pool.profile.protocol,
      engineVersion: ctx.options.engineVersion,
      url: ctx.options.engineUrls[pool.id] ?? ctx.options.engineUrl,
      pid: 0,
      slotsTotal: pool.spec.slots,
      ctxMax: pool.spec.ctxMax,
      deviceMask: pool.spec.deviceMask,
      model,
      generation,
      readyAt: DateTime.unsafeMake(now)
    })
    yield* update(ctx, pool, reason, (data) => ({
      ...data,
      state: "Ready",
      model,
      draining: false,
      generation,
      handoff,
      restarts: data.restarts + (restarted ? 1 : 0),
      nextRestartAt: undefined,
      readySince: now,
      engineVersion: ctx.options.engineVersion
    }))
    return handoff
  })

/** No engine serves the pool any more: its handoff goes, its leases are invalidated. */
export const withoutEngine = (data: PoolData): PoolData => ({
  ...data,
  draining: false,
  handoff: undefined,
  leases: invalidateLeases(data, data.generation),
  readySince: undefined,
  nextRestartAt: undefined
})

/** A start the caller asked for failed: the pool is Failed (there is no supervisor to retry). */
const startFailed = (ctx: MemoryContext, pool: MemoryPool, error: PreloadFailed) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    update(ctx, pool, "start-failed", (data) => ({
      ...withoutEngine(data),
      state: advance(data.state, LifecycleEvent.StartFailed({ retry: false })),
      lastError: lastErrorOfPreload(error, now)
    })))

/** `preload`: the handoff of a Ready pool, or a start (`instant`: without `startupMs`). */
export const preload = (ctx: MemoryContext, pool: MemoryPool, instant = false) =>
  Effect.gen(function*() {
    const data = yield* current(pool)
    const plan = yield* preloadStep(pool, data)
    if (plan instanceof Handoff) return plan
    yield* cancelRestart(ctx, pool)
    if (plan === "reset-and-start") {
      yield* update(ctx, pool, "circuit-reset", (d) => ({ ...d, history: emptyHistory }))
    }
    yield* markStarting(ctx, pool, "starting", data.model)
    yield* Effect.tapError(start(ctx, pool, data.model, instant), (error) => startFailed(ctx, pool, error))
    return yield* promote(ctx, pool, data.model, "ready")
  })

/** Drains a serving pool: no new leases, wait for active ones up to the deadline, then Stopped. */
const drainServing = (
  ctx: MemoryContext,
  pool: MemoryPool,
  data: PoolData,
  deadlineMs: number,
  reason: string
) =>
  Effect.gen(function*() {
    if (data.handoff === undefined) return noLeasesLeft
    yield* update(
      ctx,
      pool,
      "draining",
      (d) => ({ ...d, state: advance(d.state, LifecycleEvent.Drain()), draining: true })
    )
    const left = yield* awaitLeases(
      ctx,
      pool,
      (generation) => generation === data.generation,
      Effect.never,
      deadlineMs
    )
    yield* update(
      ctx,
      pool,
      reason,
      (d) => ({ ...withoutEngine(d), state: advance(d.state, LifecycleEvent.Stopped()) })
    )
    return { forceStopped: left > 0, leasesAtDeadline: left }
  })

/** `drain(poolId, { deadlineMs })`. */
export const drain = (ctx: MemoryContext, pool: MemoryPool, deadlineMs: number) =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const data = yield* current(pool)
    const plan = drainPlan(data.state)
    const result = plan === "drain"
      ? yield* drainServing(ctx, pool, data, deadlineMs, "drained")
      : plan === "cancel"
      ? yield* Effect.as(
        Effect.zipRight(
          cancelRestart(ctx, pool),
          update(
            ctx,
            pool,
            "stopped",
            (d) => ({ ...d, state: advance(d.state, LifecycleEvent.Stopped()), nextRestartAt: undefined })
          )
        ),
        noLeasesLeft
      )
      : noLeasesLeft
    return new DrainOutcome({ ...result, durationMs: (yield* Clock.currentTimeMillis) - started })
  })

/** `reload(poolId, options)`: `replace` or `surge`, rolling back on failure. */
export const reload = (ctx: MemoryContext, pool: MemoryPool, reloadOptions: ReloadOptions) =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const data = yield* current(pool)
    const strategy = reloadOptions.strategy ?? "replace"
    const deadlineMs = reloadOptions.deadlineMs ?? ctx.options.shutdownDeadlineMs
    const fromModel = data.model
    const toModel = reloadOptions.model ?? fromModel
    const failed = (cause: PreloadFailed, rolledBack: boolean) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        yield* update(ctx, pool, rolledBack ? "reload-rolled-back" : "reload-failed", (d) => ({
          ...d,
          lastError: lastErrorOf("ReloadFailed", `reload to ${toModel} failed: ${cause.reason}`, now, cause)
        }))
        return yield* new ReloadFailed({ poolId: pool.id, engine: pool.profile.name, rolledBack, cause })
      })
    const done = (handoff: Handoff) =>
      Effect.map(Clock.currentTimeMillis, (ended) =>
        new ReloadOutcome({ poolId: pool.id, strategy, fromModel, toModel, durationMs: ended - started, handoff }))

    if (data.state !== "Ready" || data.handoff === undefined) {
      // nothing serves: a reload is an explicit start on the new model
      yield* cancelRestart(ctx, pool)
      yield* update(ctx, pool, "circuit-reset", (d) => ({ ...d, history: emptyHistory }))
      yield* markStarting(ctx, pool, "reload-starting", toModel)
      yield* start(ctx, pool, toModel).pipe(
        Effect.tapError((error) =>
          Effect.zipRight(
            startFailed(ctx, pool, error),
            update(ctx, pool, "reload-failed", (d) => ({ ...d, model: fromModel }))
          )
        ),
        Effect.catchAll((error) =>
          failed(error, false)
        )
      )
      return yield* Effect.flatMap(promote(ctx, pool, toModel, "reloaded"), done)
    }
    if (strategy === "surge") {
      yield* update(ctx, pool, "reload-starting", (d) => d)
      yield* Effect.catchAll(start(ctx, pool, toModel), (error) => failed(error, true))
      const handoff = yield* promote(ctx, pool, toModel, "reloaded")
      // the old engine serves its remaining leases until they end or the deadline passes
      yield* awaitLeases(ctx, pool, (generation) => generation === data.generation, Effect.never, deadlineMs)
      yield* update(
        ctx,
        pool,
        "retired-old-engine",
        (d) => ({ ...d, leases: invalidateLeases(d, data.generation) })
      )
      return yield* done(handoff)
    }
    yield* drainServing(ctx, pool, data, deadlineMs, "reload-drained")
    yield* markStarting(ctx, pool, "reload-starting", toModel)
    const attempt = yield* Effect.either(start(ctx, pool, toModel))
    if (attempt._tag === "Right") return yield* Effect.flatMap(promote(ctx, pool, toModel, "reloaded"), done)
    yield* update(ctx, pool, "reload-rolling-back", (d) => ({ ...d, model: fromModel }))
    const rollback = yield* Effect.either(start(ctx, pool, fromModel))
    if (rollback._tag === "Right") {
      yield* promote(ctx, pool, fromModel, "rolled-back")
      return yield* failed(attempt.left, true)
    }
    yield* startFailed(ctx, pool, rollback.left)
    return yield* failed(attempt.left, false)
  })

/** Ends a pool: its operations are interrupted, its engine and leases are gone. */
export const shutdown = (ctx: MemoryContext, pool: MemoryPool) =>
  Effect.zipRight(
    Effect.zipRight(cancelRestart(ctx, pool), Scope.close(pool.scope, Exit.void)),
    update(ctx, pool, "shut-down", (d) => ({
      ...withoutEngine(d),
      state: d.state === "Registered" ? d.state : advance(d.state, LifecycleEvent.Stopped()),
      leases: HashMap.empty()
    }))
  )

/**
 * The supervisor's restart of a crashed engine (the pool is in Backoff): after `delayMs` on the
 * clock, Starting; after `startupMs`, Ready with `restarts + 1`, or Failed on a failing model.
 */
export const restartAfter = (ctx: MemoryContext, pool: MemoryPool, delayMs: number): Effect.Effect<void> =>
  Effect.zipRight(
    Effect.sleep(delayMs),
    pool.lock.withPermits(1)(Effect.gen(function*() {
      const data = yield* current(pool)
      if (data.state !== "Backoff") return
      yield* markStarting(ctx, pool, "restarting", data.model)
      const started = yield* Effect.either(start(ctx, pool, data.model))
      if (started._tag === "Left") return yield* startFailed(ctx, pool, started.left)
      yield* promote(ctx, pool, data.model, "restarted", true)
    }))
  )
