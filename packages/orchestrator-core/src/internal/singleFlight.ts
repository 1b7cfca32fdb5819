/**
 * One run of an effect shared by every concurrent caller (the next call after it ends runs again).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"

/**
 * `effect`, shared by concurrent callers: one that arrives while a run is in flight waits for that
 * run's result instead of starting another (so a burst of submits costs one round trip to a remote
 * pool manager, and no answer is older than its caller). The run belongs to the caller that started
 * it; if that caller is interrupted, the ones waiting start a run of their own.
 */
export const singleFlight = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> => {
  let inflight: Deferred.Deferred<A, E> | undefined
  const shared: Effect.Effect<A, E> = Effect.suspend(() => {
    const pending = inflight
    if (pending !== undefined) {
      return Deferred.await(pending).pipe(
        Effect.catchAllCause((cause) => Cause.isInterruptedOnly(cause) ? shared : Effect.failCause(cause))
      )
    }
    const result = Deferred.unsafeMake<A, E>(FiberId.none)
    inflight = result
    return effect.pipe(
      Effect.onExit((exit) =>
        Effect.sync(() => {
          if (inflight === result) inflight = undefined
          Deferred.unsafeDone(result, exit)
        })
      )
    )
  })
  return shared
}
