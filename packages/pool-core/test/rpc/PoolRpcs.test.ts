import { Headers } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Exit, Fiber, Option, Redacted, Schema, Scope, Stream } from "effect"
import { Keepalive, Lease, PoolAuth, PoolId, PoolSpec, Snapshot, StatusChanged, Unauthorized } from "../../src/index.js"
import { rawClient, serveInMemory } from "./server.js"

const token = Redacted.make("s3cret-token-value")
const p1 = Schema.decodeSync(PoolId)("p1")
const spec = Schema.decodeUnknownSync(PoolSpec)({ id: "p1", engine: "mock", model: "tiny", slots: 2 })

describe("PoolAuth", () => {
  it("accepts only the configured token, compared on digests", () => {
    expect(PoolAuth.tokenMatches("s3cret-token-value", token)).toBe(true)
    expect(PoolAuth.tokenMatches("s3cret-token-valuf", token)).toBe(false)
    expect(PoolAuth.tokenMatches("s3cret", token)).toBe(false)
    expect(PoolAuth.tokenMatches("", token)).toBe(false)
  })

  it("reads bearer tokens case-insensitively and rejects other schemes", () => {
    expect(PoolAuth.bearerToken(Headers.fromInput({ authorization: "Bearer abc" }))).toEqual(Option.some("abc"))
    expect(PoolAuth.bearerToken(Headers.fromInput({ authorization: "bearer  abc " }))).toEqual(Option.some("abc"))
    expect(PoolAuth.bearerToken(Headers.fromInput({ authorization: "Basic abc" }))).toEqual(Option.none())
    expect(PoolAuth.bearerToken(Headers.fromInput({ authorization: "Bearer " }))).toEqual(Option.none())
    expect(PoolAuth.bearerToken(Headers.fromInput({}))).toEqual(Option.none())
  })
})

describe("PoolRpcs over HTTP+NDJSON", () => {
  it.scopedLive("rejects a missing or wrong token with a typed Unauthorized that does not echo the token", () =>
    Effect.gen(function*() {
      const url = yield* serveInMemory(token)
      const none = yield* rawClient(url, undefined)
      const wrong = yield* rawClient(url, Redacted.make("not-the-token"))
      const right = yield* rawClient(url, token)
      const missing = yield* Effect.flip(none.List())
      const bad = yield* Effect.flip(wrong.Health())
      expect(missing).toBeInstanceOf(Unauthorized)
      expect(bad).toBeInstanceOf(Unauthorized)
      expect(bad).toMatchObject({ reason: "invalid bearer token" })
      expect(JSON.stringify(bad) + bad.message).not.toContain("not-the-token")
      const badStream = yield* Effect.flip(Stream.runDrain(wrong.Watch({})))
      expect(badStream).toBeInstanceOf(Unauthorized)
      expect(yield* right.List()).toEqual([])
    }))

  it.scopedLive("allows every call when no token is configured", () =>
    Effect.gen(function*() {
      const url = yield* serveInMemory(undefined)
      const client = yield* rawClient(url, undefined)
      expect((yield* client.Health()).pools).toBe(0)
    }))

  it.scopedLive("carries typed domain errors unchanged", () =>
    Effect.gen(function*() {
      const client = yield* rawClient(yield* serveInMemory(token), token)
      const error = yield* Effect.flip(client.Status({ poolId: p1 }))
      expect(error._tag).toBe("PoolNotFound")
      expect(error).toMatchObject({ poolId: "p1" })
    }))

  it.scopedLive("Lease grants first and releases the slot when the client ends the stream", () =>
    Effect.gen(function*() {
      const client = yield* rawClient(yield* serveInMemory(token), token)
      yield* client.Register(spec)
      yield* client.Preload({ poolId: p1 })
      const scope = yield* Scope.make()
      const mailbox = yield* client.Lease({ poolId: p1 }, { asMailbox: true }).pipe(Scope.extend(scope))
      const grant = yield* mailbox.take
      expect(grant).toBeInstanceOf(Lease)
      expect((yield* client.Status({ poolId: p1 })).activeLeases).toBe(1)
      // Watch until the release shows up: no fixed sleep.
      const watching = yield* Deferred.make<void>()
      const released = yield* client.Watch({}).pipe(
        Stream.tap((f) => f instanceof Snapshot ? Deferred.succeed(watching, undefined) : Effect.void),
        Stream.filter((f): f is StatusChanged => f instanceof StatusChanged && f.reason === "lease-released"),
        Stream.take(1),
        Stream.runCollect,
        Effect.fork
      )
      yield* Deferred.await(watching)
      yield* Scope.close(scope, Exit.void)
      const [event] = Chunk.toReadonlyArray(yield* Fiber.join(released))
      expect(event?.status.activeLeases).toBe(0)
      expect((yield* client.Status({ poolId: p1 })).slotsFree).toBe(2)
    }))

  it.scopedLive("Watch starts with a Snapshot and interleaves keepalives", () =>
    Effect.gen(function*() {
      const client = yield* rawClient(yield* serveInMemory(token), token)
      const frames = yield* client.Watch({ keepaliveMs: 100 }).pipe(Stream.take(3), Stream.runCollect)
      const [first, ...rest] = Chunk.toReadonlyArray(frames)
      expect(first).toBeInstanceOf(Snapshot)
      expect(rest.every((f) => f instanceof Keepalive)).toBe(true)
    }))
})
