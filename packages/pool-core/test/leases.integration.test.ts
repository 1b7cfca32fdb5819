import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, FiberId, Ref, Scope, Stream } from "effect"
import { type PoolEvent, PoolId, PoolManager, PoolSpec, type PoolStatus } from "../src/index.js"
import { alive, awaitStatus, failureOf, readyPool, recordEvents, statusesOf, withManager } from "./support/harness.js"

const id = PoolId.make

describe("embedded pool manager: leases, drain, events", () => {
  it.live(
    "drain waits for a lease that ends before the deadline (not forced); new leases fail while draining",
    () =>
      withManager({}, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          const events = yield* recordEvents
          const handoff = yield* readyPool("d1", { slots: 2 })
          const scope = yield* Scope.make()
          const lease = yield* pm.lease(id("d1")).pipe(Scope.extend(scope))
          expect(lease).toMatchObject({ poolId: "d1", generation: 1, url: handoff.url, engine: "fake", model: "tiny" })
          expect(yield* pm.status(id("d1"))).toMatchObject({ activeLeases: 1, slotsFree: 1 })

          const drain = yield* Effect.fork(pm.drain(id("d1"), { deadlineMs: 30_000 }))
          yield* awaitStatus("d1", (s) => s.state === "Draining")
          expect(yield* pm.status(id("d1"))).toMatchObject({ draining: true, ready: false, activeLeases: 1 })
          expect(yield* pm.lease(id("d1")).pipe(Effect.scoped, failureOf("PoolDraining"))).toMatchObject({
            poolId: "d1"
          })
          expect(alive(handoff.pid)).toBe(true)

          yield* Scope.close(scope, Exit.void)
          const outcome = yield* Fiber.join(drain)
          expect(outcome).toMatchObject({ forceStopped: false, leasesAtDeadline: 0 })
          expect(alive(handoff.pid)).toBe(false)
          expect(yield* pm.status(id("d1"))).toMatchObject({
            state: "Stopped",
            draining: false,
            activeLeases: 0,
            slotsFree: 2
          })

          const changes = (yield* Ref.get(events)).flatMap((e) => e._tag === "StatusChanged" ? [e.reason] : [])
          expect(changes).toContain("lease-acquired")
          expect(changes).toContain("lease-released")
          expect(changes.indexOf("lease-released")).toBeLessThan(changes.lastIndexOf("drained"))
        })),
    60_000
  )

  it.live(
    "drain stops the engine at the deadline when a lease outlives it (forced); the late release changes nothing",
    () =>
      withManager({}, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          const handoff = yield* readyPool("d2", { slots: 2 })
          const scope = yield* Scope.make()
          yield* pm.lease(id("d2")).pipe(Scope.extend(scope))
          const outcome = yield* pm.drain(id("d2"), { deadlineMs: 300 })
          expect(outcome).toMatchObject({ forceStopped: true, leasesAtDeadline: 1 })
          expect(outcome.durationMs).toBeGreaterThanOrEqual(300)
          expect(alive(handoff.pid)).toBe(false)
          const stopped = yield* pm.status(id("d2"))
          expect(stopped).toMatchObject({ state: "Stopped", activeLeases: 0, slotsFree: 2 })

          // the pool starts again; the old lease ending now must not free a slot of the new engine
          yield* pm.preload(id("d2"))
          yield* pm.lease(id("d2")).pipe(Effect.forkScoped)
          yield* awaitStatus("d2", (s) => s.activeLeases === 1)
          yield* Scope.close(scope, Exit.void)
          expect(yield* pm.status(id("d2"))).toMatchObject({ generation: 2, activeLeases: 1, slotsFree: 1 })
        })),
    60_000
  )

  it.live(
    "leases fail with PoolNotFound, PoolUnready and SlotsExhausted",
    () =>
      withManager({}, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          expect(yield* pm.lease(id("nope")).pipe(Effect.scoped, failureOf("PoolNotFound"))).toMatchObject({
            poolId: "nope"
          })
          yield* pm.register(new PoolSpec({ id: id("u1"), engine: "fake", model: "tiny", slots: 1, preload: false }))
          expect(yield* pm.lease(id("u1")).pipe(Effect.scoped, failureOf("PoolUnready"))).toMatchObject({
            poolId: "u1",
            state: "Registered"
          })
          yield* pm.preload(id("u1"))
          yield* pm.lease(id("u1"))
          expect(yield* pm.lease(id("u1")).pipe(Effect.scoped, failureOf("SlotsExhausted"))).toMatchObject({
            slotsTotal: 1
          })
        })),
    60_000
  )

  it.live(
    "50 concurrent lease attempts never exceed the slots; every event keeps the invariant",
    () =>
      withManager({}, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          yield* readyPool("c", { slots: 4 })
          const events = yield* recordEvents
          const held = yield* Ref.make(0)
          const maxHeld = yield* Ref.make(0)
          const attempt = pm.lease(id("c")).pipe(
            Effect.tap(() =>
              Ref.updateAndGet(held, (n) => n + 1).pipe(
                Effect.flatMap((n) => Ref.update(maxHeld, (m) => Math.max(m, n)))
              )
            ),
            Effect.zipRight(Effect.sleep("20 millis")),
            Effect.zipRight(Ref.update(held, (n) => n - 1)),
            Effect.scoped,
            Effect.as("granted" as const),
            Effect.catchTag("SlotsExhausted", () => Effect.succeed("exhausted" as const))
          )
          const results = yield* Effect.all(Array.from({ length: 50 }, () => attempt), { concurrency: "unbounded" })
          const granted = results.filter((r) => r === "granted").length
          expect(granted).toBeGreaterThanOrEqual(4)
          expect(granted + results.filter((r) => r === "exhausted").length).toBe(50)
          expect(yield* Ref.get(maxHeld)).toBeLessThanOrEqual(4)
          const seen = statusesOf(yield* Ref.get(events), "c")
          expect(seen.length).toBeGreaterThan(granted)
          for (const status of seen) {
            expect(status.activeLeases + status.slotsFree).toBe(status.slotsTotal)
            expect(status.activeLeases).toBeLessThanOrEqual(4)
            expect(status.slotsFree).toBeGreaterThanOrEqual(0)
          }
          expect(yield* pm.status(id("c"))).toMatchObject({ activeLeases: 0, slotsFree: 4 })
        })),
    60_000
  )

  it.live(
    "watchers and event streams that join while leases churn see every change exactly once",
    () =>
      withManager({}, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          yield* readyPool("w", { slots: 6 })
          // each follower checks that every lease event moves the count by exactly one from the
          // status it saw last (a change missed or seen twice breaks the chain), and keeps the last
          const follow = () => {
            const state = { last: undefined as PoolStatus | undefined, broken: [] as Array<string>, events: 0 }
            // the pool registered after the churn: everything before it has been handed out
            const sawMarker = Deferred.unsafeMake<void>(FiberId.none)
            const onEvent = (event: PoolEvent) => {
              if ((event._tag === "Snapshot") !== (state.events++ === 0)) state.broken.push(`${event._tag} first`)
              if (event._tag === "Snapshot") {
                state.last = event.pools.find((p) => p.poolId === "w")
                return
              }
              if (event.status.poolId === "w-marker") Deferred.unsafeDone(sawMarker, Exit.void)
              if (event.status.poolId !== "w") return
              const before = state.last?.activeLeases ?? 0
              const step = event.reason === "lease-acquired" ? 1 : event.reason === "lease-released" ? -1 : 0
              if (event.status.activeLeases !== before + step) {
                state.broken.push(`${event.reason}: ${before} -> ${event.status.activeLeases}`)
              }
              state.last = event.status
            }
            return { state, onEvent, sawMarker }
          }
          const churn = Effect.all(
            Array.from({ length: 6 }, () =>
              Effect.scoped(Effect.zipRight(pm.lease(id("w")), Effect.sleep("1 millis"))).pipe(
                Effect.zipRight(Effect.yieldNow()),
                Effect.repeatN(60)
              )),
            { concurrency: "unbounded", discard: true }
          )
          const followers: Array<ReturnType<typeof follow>> = []
          const joining = Effect.forEach(Array.from({ length: 12 }, (_, i) => i), (i) => {
            const follower = follow()
            followers.push(follower)
            const run = i % 2 === 0
              ? pm.watch(follower.onEvent)
              : Stream.runForEach(pm.events, (event) =>
                Effect.sync(() => follower.onEvent(event)))
            return Effect.forkScoped(run).pipe(Effect.zipRight(Effect.sleep("2 millis")))
          }, { discard: true })
          yield* Effect.all([churn, joining], { concurrency: 2, discard: true })
          const final = yield* pm.status(id("w"))
          expect(final.activeLeases).toBe(0)
          // the streams may still hold events they have not handed out: wait for one that follows them all
          yield* pm.register(new PoolSpec({ id: id("w-marker"), engine: "fake", model: "tiny", preload: false }))
          yield* Effect.forEach(followers, (f) =>
            Deferred.await(f.sawMarker), { discard: true })
          for (const { state } of followers) {
            expect(state.broken).toEqual([])
            expect(state.last).toMatchObject({ activeLeases: 0, slotsFree: 6 })
          }
        })),
    60_000
  )

  it.live(
    "watch: a callback that throws ends its own watch with the defect; leases and other watchers go on",
    () =>
      withManager({}, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          yield* readyPool("t", { slots: 2 })
          const reasons: Array<string> = []
          const watching = yield* Deferred.make<void>()
          const failingWatches = yield* Deferred.make<void>()
          yield* Effect.forkScoped(pm.watch((event) => {
            if (event._tag === "StatusChanged") reasons.push(event.reason)
            else Deferred.unsafeDone(watching, Exit.void)
          }))
          const failing = yield* Effect.fork(pm.watch((event) => {
            if (event._tag === "StatusChanged") throw new Error("watcher bug")
            Deferred.unsafeDone(failingWatches, Exit.void)
          }))
          yield* Deferred.await(watching)
          yield* Deferred.await(failingWatches)
          yield* Effect.scoped(pm.lease(id("t")))
          const exit = yield* Fiber.await(failing)
          expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
          yield* Effect.scoped(pm.lease(id("t")))
          expect(reasons).toEqual(["lease-acquired", "lease-released", "lease-acquired", "lease-released"])
        })),
    60_000
  )

  it.live(
    "events start with a Snapshot; list is sorted; health counts pools; remove forgets a pool and its files",
    () =>
      withManager({}, ({ stateDir }) =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          const fs = yield* FileSystem.FileSystem
          yield* pm.register(new PoolSpec({ id: id("zeta"), engine: "fake", model: "tiny", preload: false }))
          yield* pm.register(new PoolSpec({ id: id("alpha"), engine: "fake", model: "tiny", preload: true }))
          expect(
            yield* pm.register(new PoolSpec({ id: id("alpha"), engine: "fake", model: "x" })).pipe(
              failureOf("PoolAlreadyExists")
            )
          )
            .toMatchObject({ poolId: "alpha" })
          expect(
            yield* pm.register(new PoolSpec({ id: id("x"), engine: "vllm", model: "x" })).pipe(
              failureOf("EngineNotAllowed")
            )
          )
            .toMatchObject({ engine: "vllm" })
          const ready = yield* awaitStatus("alpha", (s) => s.state === "Ready")
          const events = yield* recordEvents
          const first = (yield* Ref.get(events))[0]
          expect(first?._tag).toBe("Snapshot")
          if (first?._tag === "Snapshot") expect(first.pools.map((p) => p.poolId)).toEqual(["alpha", "zeta"])
          expect((yield* pm.list).map((s) => s.poolId)).toEqual(["alpha", "zeta"])
          expect(yield* pm.health).toMatchObject({ version: "0.0.0", pools: 2, ready: 1 })
          expect(ready.handoff?.engineVersion).toBe("fake-engine 1.2.3")

          yield* pm.remove(id("alpha"))
          expect(alive(ready.handoff?.pid ?? 0)).toBe(false)
          expect(yield* pm.status(id("alpha")).pipe(failureOf("PoolNotFound"))).toMatchObject({ poolId: "alpha" })
          expect(yield* fs.exists(`${stateDir}/run/alpha.json`)).toBe(false)
          expect(yield* fs.exists(`${stateDir}/handoff/alpha.json`)).toBe(false)
          const reasons = (yield* Ref.get(events)).flatMap((e) => e._tag === "StatusChanged" ? [e.reason] : [])
          expect(reasons.at(-1)).toBe("removed")
          expect(yield* pm.health).toMatchObject({ pools: 1, ready: 0 })
        })),
    60_000
  )

  it.live(
    "closing the manager with a lease still held stops every engine after the shutdown deadline",
    () =>
      withManager({ shutdownDeadlineMs: 200 }, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          yield* pm.register(new PoolSpec({ id: id("s1"), engine: "fake", model: "tiny", preload: false }))
          yield* pm.register(new PoolSpec({ id: id("s2"), engine: "fake-ignore-term", model: "tiny", preload: false }))
          yield* Effect.all([pm.preload(id("s1")), pm.preload(id("s2"))], { concurrency: 2 })
          const started = yield* Deferred.make<void>()
          yield* pm.lease(id("s1")).pipe(
            Effect.zipRight(Deferred.succeed(started, undefined)),
            Effect.zipRight(Effect.never),
            Effect.scoped,
            Effect.forkScoped
          )
          yield* Deferred.await(started)
          // withManager asserts after the scope closes that no process is left
        })),
    60_000
  )
  it.live("interrupting the program that holds the manager stops its engines", () =>
    Effect.gen(function*() {
      const ready = yield* Deferred.make<ReadonlyArray<number>>()
      const program = yield* withManager({}, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          yield* pm.register(new PoolSpec({ id: id("i1"), engine: "fake", model: "tiny", preload: false }))
          yield* pm.register(new PoolSpec({ id: id("i2"), engine: "fake-ignore-term", model: "tiny", preload: false }))
          const handoffs = yield* Effect.all([pm.preload(id("i1")), pm.preload(id("i2"))], { concurrency: 2 })
          yield* pm.lease(id("i1"))
          yield* Deferred.succeed(ready, handoffs.map((h) => h.pid))
          return yield* Effect.never
        })).pipe(Effect.fork)
      const pids = yield* Deferred.await(ready)
      expect(pids.filter(alive)).toEqual(pids)
      yield* Fiber.interrupt(program)
      expect(pids.filter(alive)).toEqual([])
    }), 60_000)
})
