/**
 * The model catalog on the in-memory manager, under the `TestClock`: loads on demand, eviction of
 * the least recently used idle model (never one with a lease, one the caller keeps, one within its
 * minimum residency), idle unload, one load for concurrent callers, cancel of abandoned loads, and
 * a failed load that frees its memory.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope, TestClock } from "effect"
import {
  InsufficientMemory,
  LoadOptions,
  ModelLoadFailed,
  ModelNotFound,
  type ModelState,
  PoolManager,
  type PoolManagerService
} from "../src/index.js"
import { InMemoryPoolManager } from "../src/testing.js"

const model = (id: string, fields: Record<string, unknown> = {}) => ({
  id,
  engine: "mock",
  model: `${id}.gguf`,
  footprintMb: 1_000,
  ...fields
})

/** A device that fits two of `a`, `b`, `c`; `big` takes it whole; `broken` fails to start. */
const catalog = (options: Partial<typeof InMemoryPoolManager.InMemoryOptions.Encoded> = {}) =>
  InMemoryPoolManager.layer({
    models: [
      model("a", { aliases: ["alpha"] }),
      model("b"),
      model("c"),
      model("big", { footprintMb: 2_000 }),
      model("broken", { footprintMb: 2_000 })
    ],
    devices: [{ id: "0", memoryMb: 2_000 }],
    failingModels: ["broken.gguf"],
    defaultMinResidencyMs: 0,
    pools: [{ id: "fixed", engine: "mock", model: "fixed-model" }],
    ...options
  })

/** Waits, without letting time pass, until `id` is in `state`. */
const awaitModel = (manager: PoolManagerService, id: string, state: ModelState) =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000; i++) {
      const models = yield* manager.models
      if (models.find((m) => m.id === id)?.state === state) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`model ${id} never became ${state}`)
  })

const states = (manager: PoolManagerService) =>
  Effect.map(manager.models, (models) => Object.fromEntries(models.map((m) => [m.id, m.state])))

describe("model catalog (in-memory, TestClock)", () => {
  it.effect("lists catalogued models and fixed pools; unknown ids fail with ModelNotFound naming the known ones", () =>
    Effect.gen(function*() {
      const manager = yield* PoolManager
      expect(yield* states(manager)).toEqual({
        a: "unloaded",
        b: "unloaded",
        c: "unloaded",
        big: "unloaded",
        broken: "unloaded",
        "fixed-model": "loaded"
      })
      const missing = yield* Effect.flip(manager.load("nope"))
      expect(missing).toBeInstanceOf(ModelNotFound)
      if (missing instanceof ModelNotFound) expect(missing.known).toContain("alpha")
      expect(yield* Effect.flip(manager.unload("nope"))).toBeInstanceOf(ModelNotFound)
      const fixed = yield* manager.load("fixed-model")
      expect(fixed.poolId).toBe("fixed")
      const viaAlias = yield* manager.load("alpha")
      expect(viaAlias).toMatchObject({ modelId: "a", model: "a.gguf", ready: true })
      const listed = (yield* manager.models).find((m) => m.id === "a")
      expect(listed).toMatchObject({ state: "loaded", device: "0", footprintMb: 1_000, footprintSource: "declared" })
      expect(listed?.loads).toBe(1)
    }).pipe(Effect.provide(catalog())))

  it.effect("a load that does not fit evicts the least recently used idle model", () =>
    Effect.gen(function*() {
      const manager = yield* PoolManager
      yield* manager.load("a")
      yield* TestClock.adjust(1_000)
      yield* manager.load("b")
      yield* TestClock.adjust(1_000)
      // a is used again: b is now the least recently used
      yield* manager.load("a")
      yield* TestClock.adjust(1_000)
      const c = yield* manager.load("c")
      expect(c.ready).toBe(true)
      expect(yield* states(manager)).toMatchObject({ a: "loaded", b: "unloaded", c: "loaded" })
      expect((yield* manager.list).map((s) => s.modelId ?? s.model)).not.toContain("b")
    }).pipe(Effect.provide(catalog())))

  it.effect("a model with a lease is never evicted: the idle one goes, or the load fails naming the leases", () =>
    Effect.gen(function*() {
      const manager = yield* PoolManager
      const a = yield* manager.load("a")
      yield* TestClock.adjust(1_000)
      yield* manager.load("b")
      const scope = yield* Scope.make()
      yield* Scope.extend(manager.lease(a.poolId), scope)
      yield* TestClock.adjust(1_000)
      // a is the least recently used, but leased: b goes
      yield* manager.load("c")
      expect(yield* states(manager)).toMatchObject({ a: "loaded", b: "unloaded", c: "loaded" })
      const c = (yield* manager.list).find((s) => s.modelId === "c")!
      yield* Scope.extend(manager.lease(c.poolId), scope)
      const error = yield* Effect.flip(manager.load("b"))
      expect(error).toBeInstanceOf(InsufficientMemory)
      expect(error).toMatchObject({ modelId: "b", neededMb: 1_000, freeMb: 0, device: "0" })
      expect(error.message).toContain("a has leases")
      expect(error.message).toContain("c has leases")
      yield* Scope.close(scope, Exit.void)
      // the caller keeps c (queued work): a goes
      yield* manager.load("b", new LoadOptions({ keep: ["c"] }))
      expect(yield* states(manager)).toMatchObject({ a: "unloaded", b: "loaded", c: "loaded" })
      const tooBig = yield* Effect.flip(manager.load("big", new LoadOptions({ keep: ["b", "c"] })))
      expect(tooBig.message).toContain("has queued work (keep)")
    }).pipe(Effect.provide(catalog())))

  it.effect("minimum residency: a young model is not evicted until it has been loaded that long", () =>
    Effect.gen(function*() {
      const manager = yield* PoolManager
      yield* manager.load("a")
      yield* manager.load("b")
      const error = yield* Effect.flip(manager.load("c"))
      expect(error).toBeInstanceOf(InsufficientMemory)
      expect(error.message).toContain("within its minimum residency")
      yield* TestClock.adjust(60_000)
      yield* manager.load("c")
      expect(yield* states(manager)).toMatchObject({ a: "unloaded", b: "loaded", c: "loaded" })
    }).pipe(Effect.provide(catalog({ defaultMinResidencyMs: 60_000 }))))

  it.effect("idle TTL unloads a model unused that long; a lease keeps it; keep_loaded pins it", () =>
    Effect.gen(function*() {
      const manager = yield* PoolManager
      yield* awaitModel(manager, "c", "loaded")
      const a = yield* manager.load("a")
      yield* TestClock.adjust(29_000)
      expect(yield* states(manager)).toMatchObject({ a: "loaded" })
      const scope = yield* Scope.make()
      yield* Scope.extend(manager.lease(a.poolId), scope)
      yield* TestClock.adjust(120_000)
      expect(yield* states(manager)).toMatchObject({ a: "loaded" })
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust(29_000)
      expect(yield* states(manager)).toMatchObject({ a: "loaded" })
      yield* TestClock.adjust(1_000)
      yield* awaitModel(manager, "a", "unloaded")
      expect(yield* states(manager)).toMatchObject({ c: "loaded" })
    }).pipe(Effect.provide(catalog({
      defaultIdleTtlMs: 30_000,
      models: [model("a"), model("c", { keepLoaded: true })]
    }))))

  it.effect("concurrent loads of one model share one load", () =>
    Effect.gen(function*() {
      const manager = yield* PoolManager
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(manager.load("a")))
      yield* awaitModel(manager, "a", "loading")
      yield* TestClock.adjust(5_000)
      const statuses = yield* Effect.forEach(fibers, Fiber.join)
      expect(new Set(statuses.map((s) => s.poolId)).size).toBe(1)
      expect((yield* manager.models).find((m) => m.id === "a")?.loads).toBe(1)
    }).pipe(Effect.provide(catalog({ startupMs: 5_000 }))))

  it.effect("a load whose every caller left is cancelled: pool removed, memory freed", () =>
    Effect.gen(function*() {
      const manager = yield* PoolManager
      const first = yield* Effect.fork(manager.load("big"))
      const second = yield* Effect.fork(manager.load("big"))
      yield* awaitModel(manager, "big", "loading")
      yield* Fiber.interrupt(first)
      expect(yield* states(manager)).toMatchObject({ big: "loading" })
      yield* Fiber.interrupt(second)
      yield* awaitModel(manager, "big", "unloaded")
      expect((yield* manager.list).map((s) => s.poolId)).toEqual(["fixed"])
      // the device is free again: a load of the other whole-device model fits
      const other = yield* Effect.fork(manager.load("a"))
      yield* TestClock.adjust(5_000)
      expect((yield* Fiber.join(other)).ready).toBe(true)
    }).pipe(Effect.provide(catalog({ startupMs: 5_000 }))))

  it.effect("with cancel_abandoned_loads off, an abandoned load completes", () =>
    Effect.gen(function*() {
      const manager = yield* PoolManager
      const caller = yield* Effect.fork(manager.load("a"))
      yield* awaitModel(manager, "a", "loading")
      yield* Fiber.interrupt(caller)
      yield* TestClock.adjust(5_000)
      yield* awaitModel(manager, "a", "loaded")
    }).pipe(Effect.provide(catalog({ startupMs: 5_000, cancelAbandonedLoads: false }))))

  it.effect("a failed load reaches every caller as ModelLoadFailed and frees its memory", () =>
    Effect.gen(function*() {
      const manager = yield* PoolManager
      const errors = yield* Effect.all([manager.load("broken"), manager.load("broken")], {
        concurrency: "unbounded",
        mode: "either"
      })
      for (const result of errors) {
        expect(result._tag).toBe("Left")
        if (result._tag === "Left") {
          expect(result.left).toBeInstanceOf(ModelLoadFailed)
          expect(result.left).toMatchObject({ modelId: "broken" })
        }
      }
      expect(yield* states(manager)).toMatchObject({ broken: "unloaded" })
      expect((yield* manager.load("big")).ready).toBe(true)
      yield* manager.unload("big")
      expect(yield* states(manager)).toMatchObject({ big: "unloaded" })
    }).pipe(Effect.provide(catalog())))
})
