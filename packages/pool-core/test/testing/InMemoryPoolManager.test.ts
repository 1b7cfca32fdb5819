/**
 * The in-memory `PoolManager` of the testing entry: slots and leases, the real manager's errors,
 * scripted failures and states, events in order — all under `it.effect`, on the `TestClock`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Exit, Fiber, Layer, Option, Scope, Stream, TestClock } from "effect"
import {
  DrainOptions,
  EngineNotAllowed,
  EngineProfile,
  PoolAlreadyExists,
  PoolDraining,
  type PoolEvent,
  PoolId,
  PoolManager,
  PoolNotFound,
  PoolSpec,
  type PoolStatus,
  PoolUnready,
  PreloadFailed,
  ReloadFailed,
  ReloadOptions,
  SlotsExhausted,
  Snapshot,
  StatusChanged
} from "../../src/index.js"
import { InMemoryPoolManager } from "../../src/testing.js"

const p1 = PoolId.make("p1")
const spec = (id: string, fields: { slots?: number; preload?: boolean; model?: string; engine?: string } = {}) =>
  PoolSpec.make({
    id: PoolId.make(id),
    engine: fields.engine ?? "mock",
    model: fields.model ?? "tiny",
    slots: fields.slots ?? 2,
    preload: fields.preload ?? false
  })

/** Runs `body` on a fresh in-memory manager; the layer closes when it ends. */
const withPools = <A, E>(
  options: InMemoryPoolManager.InMemoryOptionsInput,
  body: Effect.Effect<A, E, PoolManager | InMemoryPoolManager.Control | Scope.Scope>
) => Effect.scoped(Effect.provide(body, InMemoryPoolManager.layer(options)))

/** Every event the manager publishes from now on, as `reason:state:activeLeases`. */
const recordEvents = Effect.gen(function*() {
  const manager = yield* PoolManager
  const seen: Array<PoolEvent> = []
  yield* Effect.forkScoped(manager.watch((event) => seen.push(event)))
  yield* Effect.yieldNow()
  return {
    seen,
    changes: () =>
      seen.flatMap((e) => e instanceof StatusChanged ? [`${e.reason}:${e.status.state}:${e.status.activeLeases}`] : [])
  }
})

/** The first status of `poolId` (now or later) that satisfies `predicate`. */
const statusWhere = (poolId: PoolId, predicate: (status: PoolStatus) => boolean) =>
  Effect.flatMap(PoolManager, (manager) =>
    manager.events.pipe(
      Stream.flatMap((e) => e instanceof Snapshot ? Stream.fromIterable(e.pools) : Stream.succeed(e.status)),
      Stream.filter((status) => status.poolId === poolId && predicate(status)),
      Stream.runHead,
      Effect.flatMap((found) =>
        Option.match(found, { onNone: () => Effect.dieMessage("events ended"), onSome: Effect.succeed })
      )
    ))

describe("InMemoryPoolManager", () => {
  it.effect("pools of the options are Ready at build; leases take slots, give them back, then SlotsExhausted", () =>
    withPools(
      { pools: [spec("p1", { preload: true })], engineUrl: "http://127.0.0.1:4321" },
      Effect.gen(function*() {
        const manager = yield* PoolManager
        const before = yield* manager.status(p1)
        expect(before).toMatchObject({ state: "Ready", ready: true, live: true, slotsTotal: 2, slotsFree: 2 })
        expect(before.handoff).toMatchObject({ url: "http://127.0.0.1:4321", generation: 1, model: "tiny", pid: 0 })
        const scope = yield* Scope.make()
        const first = yield* Scope.extend(manager.lease(p1), scope)
        const second = yield* Scope.extend(manager.lease(p1), scope)
        expect(first.url).toBe("http://127.0.0.1:4321")
        expect(first.leaseId).not.toBe(second.leaseId)
        expect(first).toMatchObject({
          poolId: "p1",
          generation: 1,
          engine: "mock",
          protocol: "llamacpp",
          model: "tiny"
        })
        expect(yield* manager.status(p1)).toMatchObject({ activeLeases: 2, slotsFree: 0 })
        const exhausted = yield* Effect.flip(Effect.scoped(manager.lease(p1)))
        expect(exhausted).toEqual(new SlotsExhausted({ poolId: "p1", slotsTotal: 2 }))
        yield* Scope.close(scope, Exit.void)
        expect(yield* manager.status(p1)).toMatchObject({ activeLeases: 0, slotsFree: 2 })
        expect(yield* manager.health).toMatchObject({ pools: 1, ready: 1 })
      })
    ))

  it.effect("answers the real manager's errors: PoolNotFound, PoolUnready, PoolDraining, EngineNotAllowed, PoolAlreadyExists", () =>
    withPools(
      // an EngineProfile is an engine too: the embedded and the in-memory layer can share profiles
      { engines: [{ name: "mock" }, EngineProfile.make({ name: "vllm", protocol: "openai", command: "vllm" })] },
      Effect.gen(function*() {
        const manager = yield* PoolManager
        const control = yield* InMemoryPoolManager.Control
        expect(yield* Effect.flip(Effect.scoped(manager.lease(p1)))).toEqual(new PoolNotFound({ poolId: "p1" }))
        expect(yield* Effect.flip(manager.register(spec("x", { engine: "nope" })))).toEqual(
          new EngineNotAllowed({ poolId: "x", engine: "nope", allowed: ["mock", "vllm"] })
        )
        const registered = yield* manager.register(spec("p1"))
        expect(registered).toMatchObject({ state: "Registered", ready: false, live: false })
        expect(yield* Effect.flip(manager.register(spec("p1")))).toEqual(new PoolAlreadyExists({ poolId: "p1" }))
        expect(yield* Effect.flip(Effect.scoped(manager.lease(p1)))).toEqual(
          new PoolUnready({ poolId: "p1", state: "Registered" })
        )
        yield* control.setState(p1, "Starting")
        expect(yield* Effect.flip(Effect.scoped(manager.lease(p1)))).toEqual(
          new PoolUnready({ poolId: "p1", state: "Starting" })
        )
        yield* control.setState(p1, "Ready")
        yield* control.setState(p1, "Draining")
        expect(yield* Effect.flip(Effect.scoped(manager.lease(p1)))).toEqual(new PoolDraining({ poolId: "p1" }))
        const openai = yield* manager.register(spec("p2", { engine: "vllm" }))
        expect(openai.protocol).toBe("openai")
      })
    ))

  it.effect("fail(poolId, lastError) fails the engine: Failed, lastError, leases invalidated; preload starts it again", () =>
    withPools(
      { pools: [spec("p1", { preload: true })] },
      Effect.gen(function*() {
        const manager = yield* PoolManager
        const control = yield* InMemoryPoolManager.Control
        yield* TestClock.setTime(5_000)
        const held = yield* Scope.make()
        yield* Scope.extend(manager.lease(p1), held)
        const failed = yield* control.fail(p1, { message: "segfault", exitCode: 139, stderrTail: "core dumped" })
        expect(failed).toMatchObject({ state: "Failed", ready: false, live: false, activeLeases: 0, slotsFree: 2 })
        expect(failed.handoff).toBeUndefined()
        expect(failed.lastError).toMatchObject({ kind: "EngineExited", message: "segfault", exitCode: 139 })
        expect(failed.lastError?.at.epochMillis).toBe(5_000)
        expect(yield* Effect.flip(Effect.scoped(manager.lease(p1)))).toEqual(
          new PoolUnready({ poolId: "p1", state: "Failed" })
        )
        // the lease of the failed engine was invalidated: giving it back changes nothing
        yield* Scope.close(held, Exit.void)
        expect((yield* manager.status(p1)).activeLeases).toBe(0)
        const handoff = yield* manager.preload(p1)
        expect(handoff.generation).toBe(2)
        expect((yield* manager.status(p1)).state).toBe("Ready")
      })
    ))

  it.effect("crash(poolId, lastError) goes to Backoff, restarts on the clock with restarts + 1; a drain cancels it", () =>
    withPools(
      { pools: [spec("p1", { preload: true })], startupMs: 200 },
      Effect.gen(function*() {
        const manager = yield* PoolManager
        const control = yield* InMemoryPoolManager.Control
        const recorded = yield* recordEvents
        const crashed = yield* control.crash(p1, { message: "exited with code 3", exitCode: 3 }, 1_000)
        expect(crashed).toMatchObject({
          state: "Backoff",
          restarts: 0,
          lastError: { kind: "EngineExited", exitCode: 3 }
        })
        expect(crashed.nextRestartAt?.epochMillis).toBe(1_000)
        yield* TestClock.adjust(1_000)
        expect((yield* manager.status(p1)).state).toBe("Starting")
        yield* TestClock.adjust(200)
        expect(yield* manager.status(p1)).toMatchObject({ state: "Ready", restarts: 1, generation: 2 })
        expect(recorded.changes()).toEqual([
          "engine-exited:Backoff:0",
          "restarting:Starting:0",
          "restarted:Ready:0"
        ])
        yield* control.crash(p1, { message: "again" })
        yield* manager.drain(p1, new DrainOptions({ deadlineMs: 0 }))
        yield* TestClock.adjust(5_000)
        expect(yield* manager.status(p1)).toMatchObject({ state: "Stopped", restarts: 1 })
      })
    ))

  it.effect("events: a Snapshot first, then every change in order, as watch and the stream both see it", () =>
    withPools(
      {},
      Effect.gen(function*() {
        const manager = yield* PoolManager
        const recorded = yield* recordEvents
        expect(recorded.seen[0]).toEqual(new Snapshot({ pools: [] }))
        const subscribed = yield* Deferred.make<void>()
        const stream = yield* manager.events.pipe(
          Stream.tap((e) => e instanceof Snapshot ? Deferred.succeed(subscribed, undefined) : Effect.void),
          Stream.takeUntil((e) => e instanceof StatusChanged && e.reason === "removed"),
          Stream.runCollect,
          Effect.map(Chunk.toArray),
          Effect.fork
        )
        yield* Deferred.await(subscribed)
        yield* manager.register(spec("p1", { slots: 1 }))
        yield* manager.preload(p1)
        yield* Effect.scoped(manager.lease(p1))
        yield* manager.drain(p1, new DrainOptions({ deadlineMs: 1_000 }))
        yield* manager.remove(p1)
        expect(recorded.changes()).toEqual([
          "registered:Registered:0",
          "starting:Starting:0",
          "ready:Ready:0",
          "lease-acquired:Ready:1",
          "lease-released:Ready:0",
          "draining:Draining:0",
          "drained:Stopped:0",
          "shut-down:Stopped:0",
          "removed:Stopped:0"
        ])
        const streamed = yield* Fiber.join(stream)
        expect(streamed[0]).toEqual(new Snapshot({ pools: [] }))
        expect(streamed.slice(1)).toEqual(recorded.seen.slice(1))
      })
    ))

  it.effect("startupMs holds a start on the TestClock; a drain force-stops at its deadline on it", () =>
    withPools(
      { startupMs: 2_000 },
      Effect.gen(function*() {
        const manager = yield* PoolManager
        yield* manager.register(spec("p1"))
        const preload = yield* Effect.fork(manager.preload(p1))
        yield* TestClock.adjust(1_999)
        expect((yield* manager.status(p1)).state).toBe("Starting")
        yield* TestClock.adjust(1)
        const handoff = yield* Fiber.join(preload)
        expect(handoff.readyAt.epochMillis).toBe(2_000)
        const held = yield* Scope.make()
        yield* Scope.extend(manager.lease(p1), held)
        const drain = yield* Effect.fork(manager.drain(p1, new DrainOptions({ deadlineMs: 5_000 })))
        yield* TestClock.adjust(4_999)
        expect(Option.isNone(yield* Fiber.poll(drain))).toBe(true)
        expect(yield* manager.status(p1)).toMatchObject({ state: "Draining", draining: true, activeLeases: 1 })
        yield* TestClock.adjust(1)
        const outcome = yield* Fiber.join(drain)
        expect(outcome).toMatchObject({ forceStopped: true, leasesAtDeadline: 1, durationMs: 5_000 })
        expect(yield* manager.status(p1)).toMatchObject({ state: "Stopped", activeLeases: 0 })
        yield* Scope.close(held, Exit.void)
      })
    ))

  it.effect("failing models fail a start (Failed) and a reload (rolled back); failStarts scripts them", () =>
    withPools(
      { failingModels: ["broken"] },
      Effect.gen(function*() {
        const manager = yield* PoolManager
        const control = yield* InMemoryPoolManager.Control
        yield* manager.register(spec("p0", { model: "broken" }))
        const error = yield* Effect.flip(manager.preload(PoolId.make("p0")))
        expect(error).toBeInstanceOf(PreloadFailed)
        expect(error).toMatchObject({ poolId: "p0", kind: "EngineExited", exitCode: 1 })
        expect(yield* manager.status(PoolId.make("p0"))).toMatchObject({
          state: "Failed",
          lastError: { kind: "EngineExited" }
        })
        yield* manager.register(spec("p1"))
        yield* manager.preload(p1)
        const reload = yield* Effect.flip(manager.reload(p1, new ReloadOptions({ model: "broken" })))
        expect(reload).toBeInstanceOf(ReloadFailed)
        expect(reload).toMatchObject({ poolId: "p1", rolledBack: true })
        expect(yield* manager.status(p1)).toMatchObject({ state: "Ready", model: "tiny", generation: 2 })
        yield* control.failStarts("tiny-2", true)
        expect(yield* Effect.flip(manager.reload(p1, new ReloadOptions({ model: "tiny-2" })))).toBeInstanceOf(
          ReloadFailed
        )
        yield* control.failStarts("tiny-2", false)
        const moved = yield* manager.reload(p1, new ReloadOptions({ model: "tiny-2", strategy: "surge" }))
        expect(moved).toMatchObject({ fromModel: "tiny", toModel: "tiny-2", strategy: "surge" })
        expect(moved.handoff.model).toBe("tiny-2")
      })
    ))

  it.effect("a surge reload keeps the old engine's leases until they end", () =>
    withPools(
      { pools: [spec("p1", { preload: true })] },
      Effect.gen(function*() {
        const manager = yield* PoolManager
        const held = yield* Scope.make()
        const old = yield* Scope.extend(manager.lease(p1), held)
        const reload = yield* Effect.fork(manager.reload(p1, new ReloadOptions({ model: "tiny-2", strategy: "surge" })))
        const during = yield* statusWhere(p1, (status) => status.generation === 2)
        expect(during).toMatchObject({ state: "Ready", model: "tiny-2", generation: 2, activeLeases: 1, slotsFree: 1 })
        const fresh = yield* Effect.scoped(manager.lease(p1))
        expect(fresh.generation).toBe(2)
        expect(old.generation).toBe(1)
        yield* Scope.close(held, Exit.void)
        const outcome = yield* Fiber.join(reload)
        expect(outcome.handoff.generation).toBe(2)
        expect((yield* manager.status(p1)).activeLeases).toBe(0)
      })
    ))

  it.effect("per-pool engine URLs; setState Ready starts an engine, other states drop it", () =>
    withPools(
      { engineUrls: { p1: "http://127.0.0.1:7001" } },
      Effect.gen(function*() {
        const manager = yield* PoolManager
        const control = yield* InMemoryPoolManager.Control
        yield* manager.register(spec("p1"))
        yield* manager.register(spec("p2"))
        const ready = yield* control.setState(p1, "Ready")
        expect(ready.handoff?.url).toBe("http://127.0.0.1:7001")
        expect((yield* control.setState(PoolId.make("p2"), "Ready")).handoff?.url).toBe(
          InMemoryPoolManager.placeholderUrl
        )
        const backoff = yield* control.setState(p1, "Backoff")
        expect(backoff).toMatchObject({ state: "Backoff", ready: false, live: false })
        expect(backoff.handoff).toBeUndefined()
        expect(yield* Effect.flip(control.setState(PoolId.make("nope"), "Ready"))).toBeInstanceOf(PoolNotFound)
      })
    ))

  it.effect("closing the layer ends events and watch", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(InMemoryPoolManager.layer({ pools: [spec("p1")] }), scope)
      const manager = yield* Effect.provide(PoolManager, context)
      const watching = yield* Effect.fork(manager.watch(() => {}))
      yield* Effect.yieldNow()
      yield* Scope.close(scope, Exit.void)
      expect(yield* Fiber.await(watching)).toEqual(Exit.void)
    }))
})
