/**
 * Lease sessions, the server side of `LeaseSession` / `AcquireLease` / `ReleaseLease`: a session
 * lives as long as its stream, and every slot acquired in it is held in a child of the stream's
 * scope, so it is given back when the client releases it or when the stream ends (the client went
 * away), whichever comes first.
 *
 * Acquire and release are separate requests, served by separate fibers, so a release may be served
 * before the acquire it names (the client gave up waiting and released at once). Such a release
 * leaves the key behind as cancelled, and the acquire then takes no slot.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as NodeCrypto from "node:crypto"
import type { Lease } from "../Lease.js"
import { type Keepalive, LeaseSessionClosed, type LeaseSessionFrame, LeaseSessionOpened } from "../PoolRpcs.js"

interface Session {
  readonly scope: Scope.Scope
  /** The slots held, by the key the client chose. */
  readonly held: Map<string, Scope.CloseableScope>
  /** Keys released before their acquire was served (oldest first). */
  readonly cancelled: Set<string>
}

/** How many cancelled keys a session remembers: one per acquire given up in flight, kept briefly. */
const maxCancelled = 1_024

/** The open lease sessions of one server. */
export interface LeaseSessions {
  /** A new session: `LeaseSessionOpened` first, then `keepalives`; its slots are released when it ends. */
  readonly open: (keepalives: Stream.Stream<Keepalive>) => Stream.Stream<LeaseSessionFrame>
  /** Runs `take` (a scoped lease) and holds its slot in the session under `key`. */
  readonly acquire: <E>(
    sessionId: string,
    key: string,
    take: Effect.Effect<Lease, E, Scope.Scope>
  ) => Effect.Effect<Lease, E | LeaseSessionClosed>
  /** Gives back the slot held under `key`, or cancels its acquire when it is still to come. */
  readonly release: (sessionId: string, key: string) => Effect.Effect<void>
}

/** A registry of lease sessions, for the handlers of one server. */
export const make: Effect.Effect<LeaseSessions> = Effect.sync(() => {
  const sessions = new Map<string, Session>()

  const open = (keepalives: Stream.Stream<Keepalive>): Stream.Stream<LeaseSessionFrame> =>
    Stream.unwrapScoped(
      Effect.gen(function*() {
        const sessionId = NodeCrypto.randomUUID()
        const session: Session = { scope: yield* Effect.scope, held: new Map(), cancelled: new Set() }
        sessions.set(sessionId, session)
        // runs after the held slots' scopes (finalizers run last-added first)
        yield* Effect.addFinalizer(() => Effect.sync(() => sessions.delete(sessionId)))
        return Stream.concat(Stream.succeed(new LeaseSessionOpened({ sessionId })), keepalives)
      })
    )

  const acquire = <E>(
    sessionId: string,
    key: string,
    take: Effect.Effect<Lease, E, Scope.Scope>
  ): Effect.Effect<Lease, E | LeaseSessionClosed> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        const session = sessions.get(sessionId)
        if (session === undefined) return Effect.fail(new LeaseSessionClosed({ sessionId }))
        // released before it got here: the client no longer waits for it
        if (session.cancelled.delete(key)) return Effect.interrupt
        if (session.held.has(key)) return Effect.dieMessage(`lease key ${key} is already held in session ${sessionId}`)
        return Effect.flatMap(Scope.fork(session.scope, ExecutionStrategy.sequential), (slot) =>
          restore(Scope.extend(take, slot)).pipe(
            Effect.onError((cause) => Scope.close(slot, Exit.failCause(cause))),
            Effect.flatMap((lease) => {
              if (sessions.get(sessionId) !== session) {
                // the session ended while the slot was taken: its scope (closed) released it already
                return Effect.zipRight(Scope.close(slot, Exit.void), Effect.fail(new LeaseSessionClosed({ sessionId })))
              }
              if (session.cancelled.delete(key)) {
                return Effect.zipRight(Scope.close(slot, Exit.void), Effect.interrupt)
              }
              session.held.set(key, slot)
              return Effect.succeed(lease)
            })
          ))
      })
    )

  const release = (sessionId: string, key: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      const session = sessions.get(sessionId)
      if (session === undefined) return Effect.void
      const slot = session.held.get(key)
      if (slot === undefined) {
        session.cancelled.add(key)
        if (session.cancelled.size > maxCancelled) {
          for (const oldest of session.cancelled) {
            session.cancelled.delete(oldest)
            break
          }
        }
        return Effect.void
      }
      session.held.delete(key)
      return Scope.close(slot, Exit.void)
    })

  return { open, acquire, release }
})
