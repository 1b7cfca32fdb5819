/**
 * The client side of lease sessions: one `LeaseSession` stream per client, opened with the first
 * lease and again after it ended, under which a lease is one `AcquireLease` request and its release
 * one `ReleaseLease` message (where a `Lease` stream costs a stream's messages each way). The daemon
 * releases every slot of the session when its stream ends, so a client that goes away loses nothing.
 *
 * @internal
 */
import type * as RpcClient from "@effect/rpc/RpcClient"
import type { RpcClientError } from "@effect/rpc/RpcClientError"
import {
  type Lease,
  LeaseSessionOpened,
  type PoolManagerService,
  PoolManagerUnavailable,
  type PoolRpcs,
  type TransportError
} from "@llama-orch/pool-core"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SynchronizedRef from "effect/SynchronizedRef"
import * as NodeCrypto from "node:crypto"
import { mapCause, remote } from "./transport.js"

interface Session {
  readonly id: string
  /** False once its stream ended: the daemon has released its slots. */
  open: boolean
  /** Slots taken in it and not yet given back. */
  held: number
}

type LeaseError = Effect.Effect.Error<ReturnType<PoolManagerService["lease"]>>

/**
 * `PoolManager.lease` through one shared session of `client`; requests time out after `timeout`,
 * and the session's stream runs in the caller's scope (the client's own).
 */
export const make = (options: {
  readonly url: string
  readonly client: RpcClient.FromGroup<typeof PoolRpcs, RpcClientError>
  readonly keepaliveMs: number
  readonly timeout: Duration.Duration
}): Effect.Effect<(poolId: Lease["poolId"]) => Effect.Effect<Lease, LeaseError, Scope.Scope>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { client, url } = options
    const call = remote(url, options.timeout)
    const scope = yield* Effect.scope
    const current = yield* SynchronizedRef.make<Session | undefined>(undefined)

    const start = Effect.gen(function*() {
      const opened = yield* Deferred.make<string, TransportError>()
      const state = { open: true, held: 0 }
      const fiber = yield* client.LeaseSession({ keepaliveMs: options.keepaliveMs }).pipe(
        Stream.runForEach((frame) =>
          frame instanceof LeaseSessionOpened ? Deferred.succeed(opened, frame.sessionId) : Effect.void
        ),
        Effect.zipRight(Effect.fail(new PoolManagerUnavailable({ url, reason: "the lease session ended" }))),
        Effect.catchAllCause((cause) => mapCause(url, cause)),
        Effect.tapError((error) =>
          Effect.flatMap(Deferred.fail(opened, error), (beforeOpen) =>
            beforeOpen || state.held === 0
              ? Effect.void
              : Effect.logWarning("lost the connection holding leases; the pool manager releases their slots").pipe(
                Effect.annotateLogs({ leases: state.held, reason: error.message })
              ))
        ),
        Effect.ensuring(Effect.sync(() => {
          state.open = false
        })),
        Effect.ignore,
        Effect.forkIn(scope)
      )
      const id = yield* call(Deferred.await(opened)).pipe(Effect.onError(() => Fiber.interrupt(fiber)))
      // the session object is the state its stream updates
      return Object.assign(state, { id }) satisfies Session
    })

    /** The open session, or a new one (also in place of `stale`, unless another caller replaced it already). */
    const session = (stale?: Session) =>
      SynchronizedRef.modifyEffect(current, (session) =>
        session?.open === true && session !== stale
          ? Effect.succeed([session, session] as const)
          : Effect.map(start, (opened) => [opened, opened] as const))

    const acquireIn = (session: Session, poolId: Lease["poolId"]) =>
      Effect.uninterruptibleMask((restore) => {
        const key = NodeCrypto.randomUUID()
        const sessionId = session.id
        // sent without waiting for an answer; needless once the session is gone (so are its slots)
        const release = Effect.suspend(() =>
          session.open
            ? call(client.ReleaseLease({ sessionId, key }, { discard: true })).pipe(Effect.ignore)
            : Effect.void
        )
        return restore(call(client.AcquireLease({ sessionId, key, poolId }).pipe(Effect.onInterrupt(() => release))))
          .pipe(
            Effect.tap(() => {
              session.held++
              return Effect.addFinalizer(() => {
                session.held--
                return release
              })
            })
          )
      })

    /** One slot, held until the caller's scope closes; a session found closed is opened again once. */
    return (poolId: Lease["poolId"]): Effect.Effect<Lease, LeaseError, Scope.Scope> =>
      Effect.flatMap(session(), (opened) =>
        acquireIn(opened, poolId).pipe(
          Effect.catchTag(
            "LeaseSessionClosed",
            () => Effect.flatMap(session(opened), (fresh) => acquireIn(fresh, poolId))
          ),
          Effect.catchTag(
            "LeaseSessionClosed",
            (error) => Effect.fail(new PoolManagerUnavailable({ url, reason: error.message }))
          )
        ))
  })
