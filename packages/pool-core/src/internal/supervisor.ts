/**
 * Supervision: one fiber per pool watches its Ready engine; when the engine exits or stops
 * answering liveness probes, the pool goes to Backoff and the fiber restarts it after the delay the
 * restart policy gives, or to Failed when the circuit opens.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FiberMap from "effect/FiberMap"
import * as Random from "effect/Random"
import type { PreloadFailed } from "../PoolErrors.js"
import { current, type ManagerContext, type Pool, update } from "./context.js"
import { describeExit } from "./engineProcess.js"
import { launch, markStarting, probeOf, promote } from "./launcher.js"
import { LifecycleEvent } from "./lifecycle.js"
import { type ActiveEngine, advance, invalidateLeases, lastErrorOf, lastErrorOfPreload } from "./poolState.js"
import { type EngineFailure, watchEngine } from "./probes.js"
import { onFailure, type RestartDecision } from "./restartPolicy.js"

/** What a supervisor does next. */
export type SupervisorStep = Data.TaggedEnum<{
  /** Watch a Ready engine. */
  Watch: { readonly engine: ActiveEngine }
  /** Wait until `at` (epoch ms, the status's `nextRestartAt`), then restart (the pool is in Backoff). */
  Restart: { readonly at: number }
}>

/** Constructors of `SupervisorStep`. */
export const SupervisorStep = Data.taggedEnum<SupervisorStep>()

/** Asks the restart policy about a failure happening now; returns the decision. */
const decide = (ctx: ManagerContext, pool: Pool, readySince: number | undefined) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const random = yield* Random.next
    const data = yield* current(pool)
    return { now, decision: onFailure(ctx.options.restart, data.history, now, readySince, random) }
  })

const scheduled = (decision: RestartDecision, now: number) =>
  decision._tag === "Restart" ? now + decision.delayMs : undefined

/**
 * Records that a start the supervisor (or a background preload) made has failed: Backoff with a
 * restart scheduled, or Failed when the circuit opens. Returns the next step, if any.
 */
export const recordStartFailure = (
  ctx: ManagerContext,
  pool: Pool,
  error: PreloadFailed,
  options: { readonly retry: boolean }
): Effect.Effect<SupervisorStep | undefined> =>
  Effect.gen(function*() {
    const { decision, now } = yield* decide(ctx, pool, undefined)
    const retry = options.retry && decision._tag === "Restart"
    yield* update(ctx, pool, retry ? "start-failed-backoff" : "start-failed", (data) => ({
      ...data,
      state: advance(data.state, LifecycleEvent.StartFailed({ retry })),
      engine: undefined,
      handoff: undefined,
      draining: false,
      readySince: undefined,
      lastError: lastErrorOfPreload(error, now),
      history: decision.history,
      nextRestartAt: retry ? scheduled(decision, now) : undefined
    }))
    yield* Effect.logWarning(`engine failed to start: ${error.message}`)
    return retry && decision._tag === "Restart" ? SupervisorStep.Restart({ at: now + decision.delayMs }) : undefined
  })

/** Handles the failure of a Ready engine (if it is still the pool's engine). Returns the next step, if any. */
const onEngineFailure = (
  ctx: ManagerContext,
  pool: Pool,
  engine: ActiveEngine,
  failure: EngineFailure
): Effect.Effect<SupervisorStep | undefined> =>
  Effect.gen(function*() {
    const before = yield* current(pool)
    if (before.engine?.replicaId !== engine.replicaId) return undefined
    const { decision, now } = yield* decide(ctx, pool, before.readySince)
    const retry = decision._tag === "Restart"
    const stderrTail = yield* engine.process.stderrTail
    const lastError = failure._tag === "Exited"
      ? lastErrorOf("EngineExited", `the engine ${describeExit(failure.exit)} while Ready`, now, {
        exitCode: failure.exit.exitCode,
        stderrTail
      })
      : lastErrorOf(
        "LivenessFailed",
        `the engine missed ${failure.misses} consecutive liveness probes`,
        now,
        { stderrTail }
      )
    yield* update(ctx, pool, failure._tag === "Exited" ? "engine-exited" : "liveness-failed", (data) => ({
      ...data,
      state: advance(data.state, LifecycleEvent.EngineFailed({ retry })),
      engine: undefined,
      handoff: undefined,
      draining: false,
      leases: invalidateLeases(data, data.generation),
      readySince: undefined,
      lastError,
      history: decision.history,
      nextRestartAt: scheduled(decision, now)
    }))
    yield* Effect.logWarning(`${lastError.message}; ${retry ? `restart in ${decision.delayMs} ms` : "circuit open"}`)
    yield* engine.process.stop
    yield* ctx.files.remove(ctx.files.handoffFile(pool.id))
    return retry ? SupervisorStep.Restart({ at: now + decision.delayMs }) : undefined
  })

/** The scheduled restart (the pool must still be in Backoff). Returns the next step, if any. */
const restart = (ctx: ManagerContext, pool: Pool): Effect.Effect<SupervisorStep | undefined> =>
  Effect.gen(function*() {
    const data = yield* current(pool)
    if (data.state !== "Backoff") return undefined
    yield* markStarting(ctx, pool, "restarting", data.model)
    return yield* launch(ctx, pool, { model: data.model, pidfileKey: pool.id, forceFreePort: false }).pipe(
      Effect.matchEffect({
        onFailure: (error) => recordStartFailure(ctx, pool, error, { retry: true }),
        onSuccess: (engine) =>
          promote(ctx, pool, engine, "restarted", { restarted: true }).pipe(
            Effect.as(SupervisorStep.Watch({ engine }))
          )
      })
    )
  })

/** The supervisor loop of one pool, starting at `step`. Lifecycle changes take the pool's lock. */
const supervise = (ctx: ManagerContext, pool: Pool, first: SupervisorStep): Effect.Effect<void> =>
  Effect.gen(function*() {
    let step: SupervisorStep | undefined = first
    while (step !== undefined) {
      if (step._tag === "Watch") {
        const engine: ActiveEngine = step.engine
        const failure = yield* watchEngine({
          probe: probeOf(ctx, pool, engine.url),
          exited: engine.process.exited,
          intervalMs: ctx.options.liveness.intervalMs,
          failures: ctx.options.liveness.failures
        })
        step = yield* pool.lock.withPermits(1)(onEngineFailure(ctx, pool, engine, failure))
      } else {
        // sleep until the announced time, however long stopping the failed engine took
        yield* Effect.sleep(Math.max(0, step.at - (yield* Clock.currentTimeMillis)))
        step = yield* pool.lock.withPermits(1)(restart(ctx, pool))
      }
    }
  }).pipe(Effect.annotateLogs({ pool_id: pool.id, engine: pool.profile.name }))

/** Starts (or replaces) the pool's supervisor. Never call it from the supervisor itself. */
export const startSupervisor = (ctx: ManagerContext, pool: Pool, step: SupervisorStep): Effect.Effect<void> =>
  Effect.asVoid(FiberMap.run(ctx.supervisors, pool.id, supervise(ctx, pool, step)))

/** Stops the pool's supervisor (a scheduled restart is cancelled; a stop is no longer seen as a crash). */
export const stopSupervisor = (ctx: ManagerContext, pool: Pool): Effect.Effect<void> =>
  FiberMap.remove(ctx.supervisors, pool.id)
