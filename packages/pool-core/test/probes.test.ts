import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Ref, TestClock } from "effect"
import type { EngineExit } from "../src/internal/engineProcess.js"
import { awaitReady, StartupFailure, watchEngine } from "../src/internal/probes.js"

/** A fake probe that records the (test clock) time of every call and answers from `answer`. */
const recordingProbe = (answer: (call: number) => boolean) =>
  Effect.gen(function*() {
    const calls = yield* Ref.make<ReadonlyArray<number>>([])
    const probe = Effect.gen(function*() {
      const now = yield* TestClock.currentTimeMillis
      const n = (yield* Ref.updateAndGet(calls, (c) => [...c, now])).length
      return answer(n)
    })
    return { calls, probe }
  })

describe("startup probe", () => {
  it.effect("probes at once, then after 10, 20, 40 ms, then every 50 ms, until 200", () =>
    Effect.gen(function*() {
      const { calls, probe } = yield* recordingProbe((n) => n >= 10)
      const exited = yield* Deferred.make<EngineExit>()
      const fiber = yield* Effect.fork(awaitReady({ probe, exited: Deferred.await(exited), timeoutMs: 120_000 }))
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(fiber)).toBeUndefined()
      const times = yield* Ref.get(calls)
      expect(times[0]).toBe(0)
      const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0))
      expect(gaps).toEqual([10, 20, 40, 50, 50, 50, 50, 50, 50])
    }))

  it.effect("fails with Timeout when no probe succeeds within the startup timeout", () =>
    Effect.gen(function*() {
      const { probe } = yield* recordingProbe(() => false)
      const exited = yield* Deferred.make<EngineExit>()
      const fiber = yield* Effect.fork(awaitReady({ probe, exited: Deferred.await(exited), timeoutMs: 5_000 }))
      yield* TestClock.adjust(4_999)
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust(1)
      expect(yield* Fiber.await(fiber)).toEqual(Exit.fail(StartupFailure.Timeout({ timeoutMs: 5_000 })))
    }))

  it.effect("fails with Exited as soon as the process exits", () =>
    Effect.gen(function*() {
      const { probe } = yield* recordingProbe(() => false)
      const exited = yield* Deferred.make<EngineExit>()
      const fiber = yield* Effect.fork(awaitReady({ probe, exited: Deferred.await(exited), timeoutMs: 5_000 }))
      yield* TestClock.adjust(300)
      yield* Deferred.succeed(exited, { exitCode: 3, signal: undefined })
      expect(yield* Fiber.await(fiber)).toEqual(
        Exit.fail(StartupFailure.Exited({ exit: { exitCode: 3, signal: undefined } }))
      )
    }))
})

describe("liveness", () => {
  it.effect("reports an engine that misses 3 consecutive probes, one every 2 s", () =>
    Effect.gen(function*() {
      // healthy, one miss, healthy again, then down for good from the 4th probe on
      const { calls, probe } = yield* recordingProbe((n) => n === 1 || n === 3)
      const exited = yield* Deferred.make<EngineExit>()
      const fiber = yield* Effect.fork(
        watchEngine({ probe, exited: Deferred.await(exited), intervalMs: 2_000, failures: 3 })
      )
      yield* TestClock.adjust(11_999)
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust(1)
      expect(yield* Fiber.join(fiber)).toMatchObject({ _tag: "Unresponsive", misses: 3 })
      expect(yield* Ref.get(calls)).toEqual([2_000, 4_000, 6_000, 8_000, 10_000, 12_000])
    }))

  it.effect("reports the exit of the engine", () =>
    Effect.gen(function*() {
      const { probe } = yield* recordingProbe(() => true)
      const exited = yield* Deferred.make<EngineExit>()
      const fiber = yield* Effect.fork(
        watchEngine({ probe, exited: Deferred.await(exited), intervalMs: 2_000, failures: 3 })
      )
      yield* TestClock.adjust(7_000)
      yield* Deferred.succeed(exited, { exitCode: undefined, signal: "SIGKILL" })
      expect(yield* Fiber.join(fiber)).toMatchObject({ _tag: "Exited", exit: { signal: "SIGKILL" } })
    }))
})
