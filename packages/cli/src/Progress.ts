/**
 * A progress line on stderr while an operation on a pool waits (preload, reload, drain): the
 * operation, the pool's state as its events report it, the time elapsed and the deadline. Only on a
 * terminal: redirected stderr gets nothing, so logs and scripts stay clean.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { OrchestratorClient } from "./OrchestratorClient.js"
import * as PoolEvents from "./PoolEvents.js"
import { duration, poolState } from "./Render.js"

/**
 * What the progress line says.
 *
 * @since 0.1.0
 */
export interface Waiting {
  /** The operation, e.g. `preload`. */
  readonly operation: string
  readonly poolId: string
  /** The deadline of the operation, when it has one. */
  readonly deadlineMs: Option.Option<number>
}

const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

/**
 * The progress line: `⠋ preload pool-a: Starting (loading 40%, 2.0s) · 2.1s elapsed · deadline 60.0s`.
 *
 * @since 0.1.0
 */
export const line = (waiting: Waiting, state: string, elapsedMs: number): string => {
  const frame = frames[Math.floor(elapsedMs / 100) % frames.length] ?? ""
  const deadline = Option.match(waiting.deadlineMs, {
    onNone: () => "",
    onSome: (ms) => ` · deadline ${duration(ms)}${elapsedMs > ms ? " (passed)" : ""}`
  })
  return `${frame} ${waiting.operation} ${waiting.poolId}: ${state} · ${duration(elapsedMs)} elapsed${deadline}`
}

/**
 * Runs `self` with the progress line on stderr (when stderr is a terminal), cleared when it ends.
 *
 * @since 0.1.0
 */
export const during =
  (waiting: Waiting) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | OrchestratorClient> =>
    process.stderr.isTTY !== true ? self : Effect.scoped(Effect.gen(function*() {
      const state = yield* Ref.make("…")
      const started = Date.now()
      yield* PoolEvents.states.pipe(
        Stream.runForEach((pools) => {
          const pool = pools.get(waiting.poolId)
          return pool === undefined ? Effect.void : Ref.set(state, poolState(pool))
        }),
        Effect.ignore,
        Effect.forkScoped
      )
      const render = Effect.flatMap(
        Ref.get(state),
        (s) => Effect.sync(() => process.stderr.write(`\r\x1b[2K${line(waiting, s, Date.now() - started)}`))
      )
      yield* Effect.addFinalizer(() => Effect.sync(() => process.stderr.write("\r\x1b[2K")))
      yield* Effect.forkScoped(Effect.repeat(render, Schedule.spaced("100 millis")))
      return yield* self
    }))
