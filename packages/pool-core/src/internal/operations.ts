/**
 * The lifecycle operations callers ask for — preload, drain, reload — each run under the pool's
 * lock, in a fiber of the pool's scope so a caller that goes away does not leave an operation half
 * done.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Scope from "effect/Scope"
import { PreloadFailed, ReloadFailed } from "../PoolErrors.js"
import { DrainOutcome, ReloadOutcome, type ReloadStrategy } from "../PoolManager.js"
import { Handoff } from "../PoolStatus.js"
import { current, type ManagerContext, type Pool, type PoolCell, type Publisher, update } from "./context.js"
import { launch, markStarting, promote } from "./launcher.js"
import { drainPlan, LifecycleEvent } from "./lifecycle.js"
import {
  type ActiveEngine,
  advance,
  countLeases,
  invalidateLeases,
  lastErrorOf,
  type PoolData,
  preloadStep
} from "./poolState.js"
import { emptyHistory } from "./restartPolicy.js"
import { recordStartFailure, startSupervisor, stopSupervisor, SupervisorStep } from "./supervisor.js"

/**
 * Runs `operation` under the pool's lock in a fiber of the pool's scope and waits for it. When the
 * pool is removed (or the manager closes) before it finishes, the caller gets `onGone()`.
 */
export const runOperation = <A, E>(
  pool: PoolCell,
  operation: Effect.Effect<A, E>,
  onGone: () => E
): Effect.Effect<A, E> =>
  pool.lock.withPermits(1)(operation).pipe(
    Effect.forkIn(pool.fibers),
    Effect.flatMap(Fiber.await),
    Effect.flatMap((exit) => Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) ? Effect.fail(onGone()) : exit)
  )

/**
 * Waits until no lease matches `generation` (or `exited` completes: the engine is gone, or
 * `deadlineMs` passes); returns the leases left.
 */
export const awaitLeases = (
  ctx: Publisher,
  pool: PoolCell,
  matches: (generation: number) => boolean,
  exited: Effect.Effect<unknown>,
  deadlineMs: number
): Effect.Effect<number> =>
  Effect.gen(function*() {
    // the first look and the watcher are one step: no release can fall between them
    const released = Effect.async<void>((resume) => {
      const done = () => countLeases(pool.data.current, matches) === 0
      if (done()) return resume(Effect.void)
      const remove = ctx.changes.add({
        onChange: (event) => {
          if (event.status.poolId !== pool.id || !done()) return
          remove()
          resume(Effect.void)
        },
        // the manager is shutting down: its finalizer drains the pools, this wait ends at the deadline
        onEnd: () => {}
      })
      return Effect.sync(remove)
    })
    yield* Effect.raceFirst(released, Effect.asVoid(exited)).pipe(
      Effect.timeout(deadlineMs),
      // also used by the shutdown finalizer (uninterruptible): the race and the timeout must be able to interrupt
      Effect.interruptible,
      Effect.ignore
    )
    return countLeases(yield* current(pool), matches)
  })

/** Stops a pool's serving engine after it was drained: the pool ends Stopped with its leases invalidated. */
const stopServing = (ctx: ManagerContext, pool: Pool, engine: ActiveEngine, reason: string) =>
  Effect.gen(function*() {
    yield* stopSupervisor(ctx, pool)
    yield* engine.process.stop
    yield* ctx.files.remove(ctx.files.handoffFile(pool.id))
    yield* update(ctx, pool, reason, (data) => ({
      ...data,
      state: advance(data.state, LifecycleEvent.Stopped()),
      draining: false,
      engine: undefined,
      handoff: undefined,
      leases: invalidateLeases(data, data.generation),
      readySince: undefined
    }))
  })

/** Drains a Ready pool: no new leases, wait for active ones up to the deadline, stop the engine. */
const drainServing = (ctx: ManagerContext, pool: Pool, data: PoolData, deadlineMs: number, reason: string) =>
  Effect.gen(function*() {
    const engine = data.engine
    if (engine === undefined) return { forceStopped: false, leasesAtDeadline: 0 }
    yield* update(ctx, pool, "draining", (d) => ({
      ...d,
      state: advance(d.state, LifecycleEvent.Drain()),
      draining: true
    }))
    const left = yield* awaitLeases(
      ctx,
      pool,
      (generation) => generation === data.generation,
      engine.process.exited,
      deadlineMs
    )
    if (left > 0) yield* Effect.logWarning(`drain deadline passed with ${left} active lease(s); stopping anyway`)
    yield* stopServing(ctx, pool, engine, reason)
    return { forceStopped: left > 0, leasesAtDeadline: left }
  }).pipe(Effect.annotateLogs({ pool_id: pool.id, engine: pool.profile.name }))

/** `drain(poolId, { deadlineMs })`. */
export const drain = (ctx: ManagerContext, pool: Pool, deadlineMs: number): Effect.Effect<DrainOutcome> =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const data = yield* current(pool)
    const result = yield* Effect.gen(function*() {
      switch (drainPlan(data.state)) {
        case "drain":
          return yield* drainServing(ctx, pool, data, deadlineMs, "drained")
        case "cancel":
          yield* stopSupervisor(ctx, pool)
          yield* update(ctx, pool, "stopped", (d) => ({
            ...d,
            state: advance(d.state, LifecycleEvent.Stopped()),
            nextRestartAt: undefined
          }))
          return { forceStopped: false, leasesAtDeadline: 0 }
        case "noop":
        case "busy":
          return { forceStopped: false, leasesAtDeadline: 0 }
      }
    })
    const ended = yield* Clock.currentTimeMillis
    return new DrainOutcome({ ...result, durationMs: ended - started })
  })

/**
 * `preload(poolId)`. A caller's failed start leaves the pool Failed (the caller decides what to do);
 * a background start (`retry`) goes through the restart policy like a crash.
 */
export const preload = (
  ctx: ManagerContext,
  pool: Pool,
  options: { readonly retry: boolean }
): Effect.Effect<Handoff, PreloadFailed> =>
  Effect.gen(function*() {
    const data = yield* current(pool)
    const plan = yield* preloadStep(pool, data)
    if (plan instanceof Handoff) return plan
    yield* stopSupervisor(ctx, pool)
    if (plan === "reset-and-start") {
      yield* update(ctx, pool, "circuit-reset", (d) => ({ ...d, history: emptyHistory }))
    }
    yield* markStarting(ctx, pool, "starting", data.model)
    return yield* launch(ctx, pool, { model: data.model, pidfileKey: pool.id, forceFreePort: false }).pipe(
      Effect.tapError((error) =>
        recordStartFailure(ctx, pool, error, options).pipe(
          Effect.tap((step) => step === undefined ? Effect.void : startSupervisor(ctx, pool, step))
        )
      ),
      Effect.tap((engine) => promote(ctx, pool, engine, "ready", { restarted: false })),
      Effect.tap((engine) => startSupervisor(ctx, pool, SupervisorStep.Watch({ engine }))),
      Effect.flatMap(() => current(pool)),
      Effect.flatMap((d) =>
        d.handoff === undefined ? Effect.die("promoted pool without handoff") : Effect.succeed(d.handoff)
      )
    )
  })

/** The pidfile name for a second engine beside `engine`. */
const otherPidfileKey = (pool: Pool, engine: ActiveEngine) =>
  engine.pidfileKey === pool.id ? `${pool.id}+surge` : pool.id

/** `reload(poolId, options)`: `replace` or `surge`, rolling back on failure. */
export const reload = (
  ctx: ManagerContext,
  pool: Pool,
  options: { readonly model: string | undefined; readonly strategy: ReloadStrategy; readonly deadlineMs: number }
): Effect.Effect<ReloadOutcome, ReloadFailed> =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const data = yield* current(pool)
    const fromModel = data.model
    const toModel = options.model ?? fromModel
    const failed = (cause: PreloadFailed, rolledBack: boolean) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        yield* update(ctx, pool, rolledBack ? "reload-rolled-back" : "reload-failed", (d) => ({
          ...d,
          lastError: lastErrorOf("ReloadFailed", `reload to ${toModel} failed: ${cause.reason}`, now, {
            exitCode: cause.exitCode,
            stderrTail: cause.stderrTail
          })
        }))
        return yield* new ReloadFailed({ poolId: pool.id, engine: pool.profile.name, rolledBack, cause })
      })
    const startOn = (model: string, pidfileKey: string, forceFreePort: boolean) =>
      launch(ctx, pool, { model, pidfileKey, forceFreePort })
    const serve = (engine: ActiveEngine, reason: string) =>
      promote(ctx, pool, engine, reason, { restarted: false }).pipe(
        Effect.tap(() => startSupervisor(ctx, pool, SupervisorStep.Watch({ engine })))
      )
    const done = (handoff: Handoff) =>
      Effect.map(Clock.currentTimeMillis, (ended) =>
        new ReloadOutcome({
          poolId: pool.id,
          strategy: options.strategy,
          fromModel,
          toModel,
          durationMs: ended - started,
          handoff
        }))

    const old = data.engine
    if (data.state !== "Ready" || old === undefined) {
      // nothing serves: a reload is an explicit start on the new model (and closes the circuit)
      yield* stopSupervisor(ctx, pool)
      yield* update(ctx, pool, "circuit-reset", (d) => ({ ...d, history: emptyHistory }))
      yield* markStarting(ctx, pool, "reload-starting", toModel)
      const engine = yield* startOn(toModel, pool.id, false).pipe(
        Effect.tapError((error) =>
          Effect.zipRight(
            recordStartFailure(ctx, pool, error, { retry: false }),
            update(ctx, pool, "reload-failed", (d) => ({ ...d, model: fromModel }))
          )
        ),
        Effect.catchAll((error) => failed(error, false))
      )
      return yield* serve(engine, "reloaded").pipe(Effect.flatMap(done))
    }

    if (options.strategy === "surge") {
      yield* update(ctx, pool, "reload-starting", (d) => d)
      const next = yield* startOn(toModel, otherPidfileKey(pool, old), true).pipe(
        Effect.catchAll((error) => failed(error, true))
      )
      const oldGeneration = data.generation
      const handoff = yield* serve(next, "reloaded")
      // the old engine serves its remaining leases until they end or the deadline passes
      const left = yield* awaitLeases(
        ctx,
        pool,
        (generation) => generation === oldGeneration,
        old.process.exited,
        options.deadlineMs
      )
      yield* old.process.stop
      yield* update(ctx, pool, "retired-old-engine", (d) => ({ ...d, leases: invalidateLeases(d, oldGeneration) }))
      if (left > 0) yield* Effect.logWarning(`stopped the old engine with ${left} active lease(s)`)
      return yield* done(handoff)
    }

    yield* drainServing(ctx, pool, data, options.deadlineMs, "reload-drained")
    yield* markStarting(ctx, pool, "reload-starting", toModel)
    const attempt = yield* startOn(toModel, pool.id, false).pipe(Effect.either)
    if (attempt._tag === "Right") {
      return yield* serve(attempt.right, "reloaded").pipe(Effect.flatMap(done))
    }
    yield* Effect.logWarning(`reload to ${toModel} failed; starting ${fromModel} again`)
    yield* update(ctx, pool, "reload-rolling-back", (d) => ({ ...d, model: fromModel }))
    const rollback = yield* startOn(fromModel, pool.id, false).pipe(Effect.either)
    if (rollback._tag === "Right") {
      yield* serve(rollback.right, "rolled-back")
      return yield* failed(attempt.left, true)
    }
    yield* recordStartFailure(ctx, pool, rollback.left, { retry: false })
    return yield* failed(attempt.left, false)
  }).pipe(Effect.annotateLogs({ pool_id: pool.id, engine: pool.profile.name }))

/**
 * Shutdown of one pool when the manager closes: stop granting leases, wait for active ones until
 * the deadline, then close the pool's scope (operations interrupted, engines stopped).
 */
export const shutdownPool = (ctx: ManagerContext, pool: Pool, deadlineMs: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    const data = yield* current(pool)
    const engine = data.engine
    if (engine !== undefined && countLeases(data) > 0) {
      yield* update(ctx, pool, "shutting-down", (d) => ({ ...d, draining: true }))
      yield* awaitLeases(ctx, pool, () => true, engine.process.exited, deadlineMs)
    }
    yield* stopSupervisor(ctx, pool)
    yield* Scope.close(pool.scope, Exit.void)
    yield* update(ctx, pool, "shut-down", (d) => ({
      ...d,
      state: d.state === "Registered" ? d.state : advance(d.state, LifecycleEvent.Stopped()),
      draining: false,
      engine: undefined,
      handoff: undefined,
      leases: HashMap.empty(),
      nextRestartAt: undefined,
      readySince: undefined
    }))
    yield* ctx.files.remove(ctx.files.handoffFile(pool.id))
  }).pipe(Effect.annotateLogs({ pool_id: pool.id, engine: pool.profile.name }))
