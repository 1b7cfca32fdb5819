/**
 * Timing of the embedded manager under TestClock: drain deadline, startup timeout, restart backoff
 * and liveness, with fake engine processes (test/support/fakePlatform.ts).
 */
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import {
  Chunk,
  DateTime,
  Deferred,
  Effect,
  Fiber,
  Layer,
  Logger,
  LogLevel,
  Option,
  Ref,
  Scope,
  TestClock
} from "effect"
import { EmbeddedPoolManager, EngineProfile, PoolId, PoolManager, PoolSpec, type PoolStatus } from "../src/index.js"
import { FakePlatform, type FakeProcess, FakeProcesses } from "./support/fakePlatform.js"

const id = PoolId.make
const profile = (name: string, flags: ReadonlyArray<string> = []) =>
  new EngineProfile({ name, protocol: "llamacpp", command: "fake-engine", args: ["--port", "{port}", ...flags] })

/** Lets real I/O (state files, port probing) make progress without moving the test clock. */
const settle = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 5)))

/** Waits (without moving the clock) until the pool's status matches. */
const until = (poolId: string, predicate: (status: PoolStatus) => boolean) =>
  Effect.gen(function*() {
    const pm = yield* PoolManager
    let status = yield* pm.status(id(poolId))
    for (let i = 0; i < 2_000 && !predicate(status); i++) {
      yield* settle
      status = yield* pm.status(id(poolId))
    }
    if (!predicate(status)) {
      return yield* Effect.die(
        new Error(`pool ${poolId}: status not reached (state ${status.state}, generation ${status.generation})`)
      )
    }
    // let the fibers that acted on this change reach their next wait
    yield* settle
    return status
  })

/** Waits (without moving the clock) until some fiber sleeps until `at` (test clock ms). */
const untilSleeping = (at: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2_000; i++) {
      const sleeps = Chunk.toReadonlyArray(yield* TestClock.sleeps())
      if (sleeps.includes(at)) return
      yield* settle
    }
    return yield* Effect.die(new Error(`no fiber sleeps until ${at}`))
  })

const processes = Effect.flatMap(FakeProcesses, Ref.get)
const latest = Effect.map(processes, (all): FakeProcess | undefined => all[all.length - 1])

const withFakeManager = <A, E>(
  options: Partial<EmbeddedPoolManager.EmbeddedOptionsInput>,
  body: Effect.Effect<A, E, PoolManager | FakeProcesses | Scope.Scope>
) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "pool-core-timing-" })
    const manager = EmbeddedPoolManager.layer({
      profiles: [profile("fake"), profile("fake-hang", ["--hang-health"])],
      stateDir,
      ...options
    })
    return yield* body.pipe(Effect.provide(manager))
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.mergeAll(FakePlatform, NodeFileSystem.layer, NodePath.layer)),
    Logger.withMinimumLogLevel(LogLevel.Error)
  )

describe("embedded pool manager timing (TestClock)", () => {
  it.effect("drain waits exactly until the deadline for a lease that is never released", () =>
    withFakeManager(
      {},
      Effect.gen(function*() {
        const pm = yield* PoolManager
        yield* pm.register(new PoolSpec({ id: id("d"), engine: "fake", model: "m", port: 9001, preload: false }))
        yield* pm.preload(id("d"))
        yield* pm.lease(id("d"))
        const drain = yield* Effect.fork(pm.drain(id("d"), { deadlineMs: 5_000 }))
        yield* until("d", (s) => s.state === "Draining")
        yield* untilSleeping(5_000)
        yield* TestClock.adjust(4_999)
        yield* settle
        expect(Option.isNone(yield* Fiber.poll(drain))).toBe(true)
        expect(yield* pm.status(id("d"))).toMatchObject({ state: "Draining", activeLeases: 1 })
        yield* TestClock.adjust(1)
        const outcome = yield* Fiber.join(drain)
        expect(outcome).toMatchObject({ forceStopped: true, leasesAtDeadline: 1, durationMs: 5_000 })
        const engine = yield* latest
        expect(engine === undefined ? undefined : yield* Deferred.await(engine.exit)).toBe("SIGTERM")
        expect(yield* pm.status(id("d"))).toMatchObject({ state: "Stopped", activeLeases: 0, slotsFree: 1 })
      })
    ))

  it.effect("startup times out after startupTimeoutMs of failed probes and stops the process", () =>
    withFakeManager(
      { startupTimeoutMs: 120_000 },
      Effect.gen(function*() {
        const pm = yield* PoolManager
        yield* pm.register(new PoolSpec({ id: id("h"), engine: "fake-hang", model: "m", port: 9002, preload: false }))
        const preload = yield* Effect.fork(Effect.flip(pm.preload(id("h"))))
        yield* until("h", (s) => s.state === "Starting")
        yield* untilSleeping(120_000)
        yield* TestClock.adjust(119_999)
        yield* settle
        expect(Option.isNone(yield* Fiber.poll(preload))).toBe(true)
        yield* TestClock.adjust(1)
        expect(yield* Fiber.join(preload)).toMatchObject({ _tag: "PreloadFailed", kind: "StartupTimeout" })
        const engine = yield* latest
        expect(engine === undefined ? undefined : yield* Deferred.await(engine.exit)).toBe("SIGTERM")
      })
    ))

  it.effect("a crashed engine is restarted after 1 s ± 10 %, then 2 s ± 10 %; liveness misses count as crashes", () =>
    withFakeManager(
      {},
      Effect.gen(function*() {
        const pm = yield* PoolManager
        yield* pm.register(new PoolSpec({ id: id("c"), engine: "fake", model: "m", port: 9003, preload: false }))
        yield* pm.preload(id("c"))

        const crashAndMeasure = (expectedMs: number, generation: number) =>
          Effect.gen(function*() {
            const engine = yield* latest
            if (engine === undefined) return yield* Effect.die("no engine")
            const crashedAt = yield* TestClock.currentTimeMillis
            yield* Deferred.succeed(engine.exit, 1)
            const backoff = yield* until("c", (s) => s.state === "Backoff")
            const delay = DateTime.toEpochMillis(backoff.nextRestartAt ?? DateTime.unsafeMake(0)) - crashedAt
            expect(delay).toBeGreaterThanOrEqual(expectedMs * 0.9)
            expect(delay).toBeLessThanOrEqual(expectedMs * 1.1)
            const started = (yield* processes).length
            yield* TestClock.adjust(delay - 1)
            yield* settle
            expect((yield* processes).length).toBe(started)
            yield* TestClock.adjust(1)
            return yield* until("c", (s) => s.state === "Ready" && s.generation === generation)
          })

        expect(yield* crashAndMeasure(1_000, 2)).toMatchObject({
          restarts: 1,
          lastError: { kind: "EngineExited", exitCode: 1 }
        })
        expect(yield* crashAndMeasure(2_000, 3)).toMatchObject({ restarts: 2 })

        // liveness: three consecutive failed probes, one every 2 s
        const engine = yield* latest
        if (engine === undefined) return yield* Effect.die("no engine")
        yield* Ref.set(engine.healthy, false)
        yield* untilSleeping((yield* TestClock.currentTimeMillis) + 2_000)
        yield* TestClock.adjust(5_999)
        yield* settle
        expect(yield* pm.status(id("c"))).toMatchObject({ state: "Ready" })
        yield* TestClock.adjust(1)
        const failed = yield* until("c", (s) => s.state === "Backoff")
        expect(failed.lastError).toMatchObject({ kind: "LivenessFailed" })
      })
    ))

  it.effect("the circuit opens at the 5th failure within 10 minutes: Failed, and no restart afterwards", () =>
    withFakeManager(
      {},
      Effect.gen(function*() {
        const pm = yield* PoolManager
        yield* pm.register(new PoolSpec({ id: id("f"), engine: "fake", model: "m", port: 9004, preload: false }))
        yield* pm.preload(id("f"))
        for (let failure = 1; failure <= 5; failure++) {
          const engine = yield* latest
          if (engine === undefined) return yield* Effect.die("no engine")
          yield* Deferred.succeed(engine.exit, 1)
          if (failure === 5) break
          yield* until("f", (s) => s.state === "Backoff")
          yield* TestClock.adjust(20_000)
          yield* until("f", (s) => s.state === "Ready" && s.generation === failure + 1)
        }
        const failed = yield* until("f", (s) => s.state === "Failed")
        expect(failed).toMatchObject({ restarts: 4, nextRestartAt: undefined })
        const count = (yield* processes).length
        yield* TestClock.adjust(3_600_000)
        yield* settle
        expect((yield* processes).length).toBe(count)
        // an explicit preload closes the circuit again
        expect(yield* pm.preload(id("f"))).toMatchObject({ generation: 6 })
      })
    ))
})
