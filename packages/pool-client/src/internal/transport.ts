/**
 * How transport failures become typed errors, and the retry and timeout policy of remote calls.
 *
 * @internal
 */
import { RpcClientError } from "@effect/rpc/RpcClientError"
import { PoolManagerUnavailable } from "@llama-orch/pool-core"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schedule from "effect/Schedule"

/** Capped exponential backoff with jitter: `base × 2^n` (±20%), never above `cap`. */
export const backoff = (base: Duration.Duration, cap: Duration.Duration): Schedule.Schedule<unknown> =>
  Schedule.exponential(base).pipe(Schedule.jittered, Schedule.union(Schedule.spaced(cap)))

const unexpected = (cause: Cause.Cause<unknown>): string => {
  if (Cause.isInterruptedOnly(cause)) return "the connection was closed by the server"
  const defect = Cause.squash(cause)
  return `unexpected answer: ${defect instanceof Error ? defect.message : "not the protocol"}`
}

/**
 * Turns a remote call's failure into a typed error: transport errors, a connection closed by the
 * server (an interrupt-only cause on a graceful shutdown) and undecodable answers all become
 * `PoolManagerUnavailable`; domain errors pass through unchanged.
 */
export const mapCause = <E>(
  url: string,
  cause: Cause.Cause<E | RpcClientError>
): Effect.Effect<never, E | PoolManagerUnavailable> =>
  Either.match(Cause.failureOrCause(cause), {
    onLeft: (error) =>
      error instanceof RpcClientError
        ? Effect.fail(new PoolManagerUnavailable({ url, reason: error.message }))
        : Effect.fail(error),
    onRight: (other) => Effect.fail(new PoolManagerUnavailable({ url, reason: unexpected(other) }))
  })

/** Maps every failure with `mapCause`, then applies the call timeout. */
export const remote = (url: string, timeout: Duration.Duration) =>
<A, E>(
  effect: Effect.Effect<A, E | RpcClientError>
): Effect.Effect<A, E | PoolManagerUnavailable> =>
  effect.pipe(
    Effect.catchAllCause((cause) => mapCause(url, cause)),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new PoolManagerUnavailable({ url, reason: `no answer within ${Duration.format(timeout)}` })
    })
  )

/** Whether an error is worth another attempt (the daemon may come back; domain errors will not change). */
export const isTransient = (error: unknown): error is PoolManagerUnavailable => error instanceof PoolManagerUnavailable
