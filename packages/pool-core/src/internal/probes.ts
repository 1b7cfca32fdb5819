/**
 * Health probes: the fast-then-slower startup probe that decides Ready, and the liveness probe that
 * watches a Ready engine. Both take the probe and the process exit as effects, so their timing is
 * testable with `TestClock` and a fake engine.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { EngineExit } from "./engineProcess.js"

/**
 * One GET of `url` with its own timeout: true on a 200, false on anything else (another status,
 * a refused connection, a hung or slow response).
 */
export const httpProbe = (client: HttpClient.HttpClient, url: string, timeoutMs: number): Effect.Effect<boolean> =>
  client.get(url).pipe(
    Effect.flatMap((response) => Effect.as(Effect.ignore(response.text), response.status === 200)),
    Effect.timeout(timeoutMs),
    Effect.orElseSucceed(() => false)
  )

/**
 * When startup probes run: the first at once, then after 10, 20 and 40 ms, then every 50 ms, so a
 * pool is Ready within about 50 ms of its engine's health turning OK (a model loaded on demand has a
 * request waiting for it). A probe of a local engine costs a fraction of a millisecond.
 */
export const startupProbeSchedule = Schedule.exponential("10 millis", 2).pipe(
  Schedule.union(Schedule.spaced("50 millis"))
)

/** Why an engine did not become Ready. */
export type StartupFailure = Data.TaggedEnum<{
  Exited: { readonly exit: EngineExit }
  Timeout: { readonly timeoutMs: number }
}>

/** Constructors of `StartupFailure`. */
export const StartupFailure = Data.taggedEnum<StartupFailure>()

/**
 * Probes until one succeeds, racing the process exit and the startup timeout (all on the Effect
 * `Clock`).
 */
export const awaitReady = (options: {
  readonly probe: Effect.Effect<boolean>
  readonly exited: Effect.Effect<EngineExit>
  readonly timeoutMs: number
}): Effect.Effect<void, StartupFailure> =>
  Effect.raceFirst(
    options.probe.pipe(Effect.repeat({ schedule: startupProbeSchedule, until: (ok) => ok }), Effect.asVoid),
    Effect.flatMap(options.exited, (exit) => Effect.fail(StartupFailure.Exited({ exit })))
  ).pipe(
    Effect.timeoutFail({
      duration: options.timeoutMs,
      onTimeout: () => StartupFailure.Timeout({ timeoutMs: options.timeoutMs })
    })
  )

/** Why a Ready engine is considered dead. */
export type EngineFailure = Data.TaggedEnum<{
  Exited: { readonly exit: EngineExit }
  Unresponsive: { readonly misses: number }
}>

/** Constructors of `EngineFailure`. */
export const EngineFailure = Data.taggedEnum<EngineFailure>()

/**
 * Watches a Ready engine and completes with the reason when it exits or misses `failures`
 * consecutive liveness probes, one every `intervalMs`. Never completes while the engine is healthy.
 */
export const watchEngine = (options: {
  readonly probe: Effect.Effect<boolean>
  readonly exited: Effect.Effect<EngineExit>
  readonly intervalMs: number
  readonly failures: number
}): Effect.Effect<EngineFailure> => {
  const liveness = Effect.gen(function*() {
    let misses = 0
    while (misses < options.failures) {
      yield* Effect.sleep(options.intervalMs)
      misses = (yield* options.probe) ? 0 : misses + 1
    }
    return EngineFailure.Unresponsive({ misses })
  })
  return Effect.raceFirst(Effect.map(options.exited, (exit) => EngineFailure.Exited({ exit })), liveness)
}
