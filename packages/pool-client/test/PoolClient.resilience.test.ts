/**
 * Retry, timeout and reconnect policy of the client, driven by TestClock against an in-memory
 * `HttpClient` that fails, hangs or truncates like a broken daemon would.
 */
import { HttpClient, HttpClientError, HttpClientResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { PoolId, PoolManager, PoolManagerUnavailable, PoolNotFound, PoolSpec } from "@llama-orch/pool-core"
import { Cause, Effect, Fiber, FiberId, Layer, Redacted, Ref, Schema, Stream, TestClock } from "effect"
import { PoolClient } from "../src/index.js"
import { mapCause } from "../src/internal/transport.js"

const url = "http://127.0.0.1:9"
const p1 = Schema.decodeSync(PoolId)("p1")
const spec = Schema.decodeUnknownSync(PoolSpec)({ id: "p1", engine: "mock", model: "tiny" })

type Behaviour = "refuse" | "hang" | "truncate"

/** An HttpClient recording the (TestClock) time of every request and answering per `behaviour`. */
const fakeHttp = (behaviour: Behaviour, attempts: Ref.Ref<ReadonlyArray<number>>) =>
  Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request) =>
      Effect.gen(function*() {
        const now = yield* TestClock.currentTimeMillis
        yield* Ref.update(attempts, (xs) => [...xs, now])
        switch (behaviour) {
          case "refuse":
            return yield* new HttpClientError.RequestError({ request, reason: "Transport", cause: "ECONNREFUSED" })
          case "hang":
            return yield* Effect.never
          case "truncate":
            // 200 and an empty NDJSON body: EOF without an Exit frame.
            return HttpClientResponse.fromWeb(
              request,
              new Response("", { headers: { "content-type": "application/ndjson" } })
            )
        }
      })
    )
  )

const withClient = <A, E>(
  behaviour: Behaviour,
  f: (manager: PoolManager["Type"], attempts: Ref.Ref<ReadonlyArray<number>>) => Effect.Effect<A, E>,
  options: Partial<Omit<PoolClient.Options, "protocol">> = {}
) =>
  Effect.gen(function*() {
    const attempts = yield* Ref.make<ReadonlyArray<number>>([])
    return yield* Effect.flatMap(PoolManager, (m) => f(m, attempts)).pipe(
      Effect.provide(
        PoolClient.layer({ url, token: Redacted.make("t0ken"), ...options }).pipe(
          Layer.provide(fakeHttp(behaviour, attempts))
        )
      )
    )
  })

const gaps = (times: ReadonlyArray<number>) => times.slice(1).map((t, i) => t - (times[i] ?? 0))

describe("PoolClient resilience", () => {
  it.effect("retries idempotent calls with capped exponential backoff, then fails PoolManagerUnavailable", () =>
    withClient("refuse", (manager, attempts) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(Effect.flip(manager.list))
        for (let i = 0; i < 20; i++) yield* TestClock.adjust("50 millis")
        const error = yield* Fiber.join(fiber)
        expect(error).toBeInstanceOf(PoolManagerUnavailable)
        expect(error).toMatchObject({ url })
        const times = yield* Ref.get(attempts)
        expect(times).toHaveLength(4)
        const [g1 = 0, g2 = 0, g3 = 0] = gaps(times)
        expect(g1).toBeGreaterThanOrEqual(50)
        expect(g1).toBeLessThanOrEqual(150)
        expect(g2).toBeGreaterThan(g1)
        expect(g3).toBeGreaterThan(g2)
        expect(g3).toBeLessThanOrEqual(300) // capped
      }), { retry: { base: "100 millis", cap: "250 millis", times: 3 } }))

  it.effect("does not retry calls that are not idempotent", () =>
    withClient("refuse", (manager, attempts) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(manager.register(spec))
        expect(error).toBeInstanceOf(PoolManagerUnavailable)
        expect(yield* Ref.get(attempts)).toHaveLength(1)
      })))

  it.effect("times out a call the daemon never answers", () =>
    withClient("hang", (manager) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(Effect.flip(manager.status(p1)))
        yield* TestClock.adjust("5 seconds")
        expect(fiber.unsafePoll()).toBeNull()
        yield* TestClock.adjust("6 seconds")
        const error = yield* Fiber.join(fiber)
        expect(error).toBeInstanceOf(PoolManagerUnavailable)
        expect(error.message).toContain("no answer within")
      }), { timeouts: { call: "10 seconds" }, retry: { times: 0 } }))

  it.effect("a truncated answer (EOF without Exit) does not hang a call", () =>
    withClient("truncate", (manager) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(Effect.flip(manager.remove(p1)))
        yield* TestClock.adjust("11 seconds")
        expect(yield* Fiber.join(fiber)).toBeInstanceOf(PoolManagerUnavailable)
      }), { timeouts: { call: "10 seconds" } }))

  it.effect("a truncated lease grant fails typed instead of hanging", () =>
    withClient("truncate", (manager) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(Effect.flip(Effect.scoped(manager.lease(p1))))
        yield* TestClock.adjust("11 seconds")
        expect(yield* Fiber.join(fiber)).toBeInstanceOf(PoolManagerUnavailable)
      }), { timeouts: { call: "10 seconds" } }))

  it.effect("events reconnect with capped backoff while the daemon is unreachable", () =>
    withClient("refuse", (manager, attempts) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(Stream.runDrain(manager.events))
        for (let i = 0; i < 100; i++) yield* TestClock.adjust("100 millis")
        const times = yield* Ref.get(attempts)
        expect(times.length).toBeGreaterThan(4)
        expect(Math.max(...gaps(times))).toBeLessThanOrEqual(1_001)
        expect(fiber.unsafePoll()).toBeNull() // still trying, never fails on its own
        yield* Fiber.interrupt(fiber)
      }), { reconnect: { base: "100 millis", cap: "1 second" } }))

  it.effect("events reconnect when a connection goes quiet (idle timeout)", () =>
    withClient("truncate", (manager, attempts) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(Stream.runDrain(manager.events))
        for (let i = 0; i < 40; i++) yield* TestClock.adjust("100 millis")
        expect((yield* Ref.get(attempts)).length).toBeGreaterThanOrEqual(2)
        yield* Fiber.interrupt(fiber)
      }), { timeouts: { idle: "1 second" }, reconnect: { base: "100 millis", cap: "200 millis" } }))
})

describe("transport failures become typed errors", () => {
  it.effect("a graceful daemon shutdown (interrupt-only cause) is PoolManagerUnavailable, so events reconnect", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(mapCause(url, Cause.interrupt(FiberId.make(-503, 0))))
      expect(error).toBeInstanceOf(PoolManagerUnavailable)
      expect(error).toMatchObject({ url, reason: "the connection was closed by the server" })
    }))

  it.effect("an answer that is not the protocol (a defect) is PoolManagerUnavailable; domain errors pass through", () =>
    Effect.gen(function*() {
      const garbage = yield* Effect.flip(mapCause(url, Cause.die(new Error("Unexpected token < in JSON"))))
      expect(garbage).toBeInstanceOf(PoolManagerUnavailable)
      expect(garbage.message).toContain("Unexpected token")
      const domain = new PoolNotFound({ poolId: "p1" })
      expect(yield* Effect.flip(mapCause(url, Cause.fail(domain)))).toBe(domain)
    }))
})
