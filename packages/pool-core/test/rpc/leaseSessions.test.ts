/**
 * Lease sessions over the wire: `LeaseSession` / `AcquireLease` / `ReleaseLease` against an
 * in-memory manager served over real HTTP, with the raw RPC client (what pool-client builds on).
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Redacted, Schema, Scope, Stream } from "effect"
import {
  Lease,
  LeaseSessionClosed,
  LeaseSessionOpened,
  PoolId,
  PoolSpec,
  Snapshot,
  StatusChanged
} from "../../src/index.js"
import { rawClient, serveInMemory } from "./server.js"

const token = Redacted.make("session-token-value")
const p1 = Schema.decodeSync(PoolId)("p1")
const spec = Schema.decodeUnknownSync(PoolSpec)({ id: "p1", engine: "mock", model: "tiny", slots: 3 })

/** A Ready pool of three slots and a client for it. */
const readyPool = Effect.gen(function*() {
  const client = yield* rawClient(yield* serveInMemory(token), token)
  yield* client.Register(spec)
  yield* client.Preload({ poolId: p1 })
  return client
})

type Client = Effect.Effect.Success<typeof readyPool>

/** Opens a session in its own scope; returns its id and the scope that ends it. */
const openSession = (client: Client) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const frames = yield* client.LeaseSession({}, { asMailbox: true }).pipe(Scope.extend(scope))
    const first = yield* frames.take
    if (!(first instanceof LeaseSessionOpened)) return yield* Effect.dieMessage("expected LeaseSessionOpened first")
    return { sessionId: first.sessionId, scope }
  })

const freeSlots = (client: Client) => Effect.map(client.Status({ poolId: p1 }), (status) => status.slotsFree)

/** Waits (on the Watch stream, no polling) until the pool's free slots read `expected`. */
const awaitFree = (client: Client, expected: number) =>
  client.Watch({}).pipe(
    Stream.map((frame) =>
      frame instanceof Snapshot
        ? frame.pools.find((pool) => pool.poolId === p1)?.slotsFree
        : frame instanceof StatusChanged && frame.status.poolId === p1
        ? frame.status.slotsFree
        : undefined
    ),
    Stream.filter((free) => free === expected),
    Stream.runHead,
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => `slotsFree never read ${expected}` })
  )

describe("lease sessions", () => {
  it.scopedLive("AcquireLease holds a slot in its session until ReleaseLease; a second release changes nothing", () =>
    Effect.gen(function*() {
      const client = yield* readyPool
      const { sessionId } = yield* openSession(client)
      const lease = yield* client.AcquireLease({ sessionId, key: "k1", poolId: p1 })
      expect(lease).toBeInstanceOf(Lease)
      expect(yield* freeSlots(client)).toBe(2)
      yield* client.ReleaseLease({ sessionId, key: "k1" })
      expect(yield* freeSlots(client)).toBe(3)
      yield* client.ReleaseLease({ sessionId, key: "k1" })
      expect(yield* freeSlots(client)).toBe(3)
      // the key may not be held twice at once, but a released key's slot is gone for good
      yield* client.AcquireLease({ sessionId, key: "k2", poolId: p1 })
      expect(yield* freeSlots(client)).toBe(2)
    }))

  it.scopedLive("every slot of a session is released when its stream ends (the client went away)", () =>
    Effect.gen(function*() {
      const client = yield* readyPool
      const { scope, sessionId } = yield* openSession(client)
      yield* client.AcquireLease({ sessionId, key: "a", poolId: p1 })
      yield* client.AcquireLease({ sessionId, key: "b", poolId: p1 })
      expect(yield* freeSlots(client)).toBe(1)
      yield* Scope.close(scope, Exit.void)
      expect(yield* awaitFree(client, 3)).toEqual(Option.some(3))
      // and the ended session takes no more leases
      const error = yield* Effect.flip(client.AcquireLease({ sessionId, key: "c", poolId: p1 }))
      expect(error).toBeInstanceOf(LeaseSessionClosed)
      expect(error).toMatchObject({ sessionId })
    }))

  it.scopedLive("a release served before its acquire cancels it: the acquire takes no slot", () =>
    Effect.gen(function*() {
      const client = yield* readyPool
      const { sessionId } = yield* openSession(client)
      yield* client.ReleaseLease({ sessionId, key: "late" })
      const exit = yield* Effect.exit(client.AcquireLease({ sessionId, key: "late", poolId: p1 }))
      expect(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)).toBe(true)
      expect(yield* freeSlots(client)).toBe(3)
      // the cancellation is spent: the key may be acquired again
      yield* client.AcquireLease({ sessionId, key: "late", poolId: p1 })
      expect(yield* freeSlots(client)).toBe(2)
    }))

  it.scopedLive("AcquireLease in a session that was never opened is a typed LeaseSessionClosed", () =>
    Effect.gen(function*() {
      const client = yield* readyPool
      const error = yield* Effect.flip(client.AcquireLease({ sessionId: "no-such-session", key: "k", poolId: p1 }))
      expect(error).toBeInstanceOf(LeaseSessionClosed)
      expect(error.message).toBe("lease session no-such-session is not open")
      expect(yield* freeSlots(client)).toBe(3)
    }))

  it.scopedLive("domain errors of an acquire pass through; an over-long key is refused before it is served", () =>
    Effect.gen(function*() {
      const client = yield* readyPool
      const { sessionId } = yield* openSession(client)
      for (const key of ["x", "y", "z"]) yield* client.AcquireLease({ sessionId, key, poolId: p1 })
      const exhausted = yield* Effect.flip(client.AcquireLease({ sessionId, key: "w", poolId: p1 }))
      expect(exhausted._tag).toBe("SlotsExhausted")
      const missing = yield* Effect.flip(
        client.AcquireLease({ sessionId, key: "v", poolId: Schema.decodeSync(PoolId)("nope") })
      )
      expect(missing._tag).toBe("PoolNotFound")
      const tooLong = yield* Effect.exit(client.AcquireLease({ sessionId, key: "k".repeat(65), poolId: p1 }))
      expect(Exit.isFailure(tooLong)).toBe(true)
      expect(yield* freeSlots(client)).toBe(0)
    }))
})
