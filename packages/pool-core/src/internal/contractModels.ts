/**
 * The model catalog cases of the `PoolManager` contract suite: `models`, `load` and `unload` on a
 * layer configured with `catalogOf(fixtures)` — one device that fits two of three models.
 *
 * @internal
 */
import { expect, type Vitest } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type { CatalogModel, ModelState } from "../ModelCatalog.js"
import { InsufficientMemory, ModelLoadFailed, ModelNotFound, PoolNotFound } from "../PoolErrors.js"
import { PoolManager } from "../PoolManager.js"

/** What the catalog cases need to know of the implementation under test. */
export interface CatalogFixtures {
  /** The engine profile of every catalogued model. */
  readonly engine: string
  /** A model file the engine loads. */
  readonly model: string
  /** A model file the engine fails to load: the crashing model's file, when `crashArgs` is not given. */
  readonly failingModel: string
  /** Extra engine args that make the engine exit while it loads (the mock engine's `--crash-during-load`). */
  readonly crashArgs?: ReadonlyArray<string> | undefined
  /** Extra engine args that make the load take long enough to be cancelled; without them that case is not run. */
  readonly slowArgs?: ReadonlyArray<string> | undefined
  /** Called with the error of the crashed load: for checks of your own (the engine's stderr tail). */
  readonly onLoadFailed?: ((error: ModelLoadFailed) => void) | undefined
}

/** The catalog options (embedded or in-memory) the layer under test must be built with. */
export const catalogOf = (fixtures: CatalogFixtures) => {
  const model = (id: string, fields: Partial<typeof CatalogModel.Encoded> = {}): typeof CatalogModel.Encoded => ({
    id,
    engine: fixtures.engine,
    model: fixtures.model,
    footprintMb: 1_000,
    ...fields
  })
  const crash = fixtures.crashArgs === undefined
    ? { model: fixtures.failingModel }
    : { args: fixtures.crashArgs }
  return {
    models: [
      model("cm-a", { aliases: ["cm-alpha"] }),
      model("cm-b"),
      model("cm-c"),
      model("cm-crash", { footprintMb: 2_000, ...crash }),
      ...(fixtures.slowArgs === undefined ? [] : [model("cm-slow", { footprintMb: 2_000, args: fixtures.slowArgs })])
    ],
    devices: [{ id: "0", memoryMb: 2_000 }],
    defaultMinResidencyMs: 0
  }
}

const stateOf = (id: string) =>
  Effect.flatMap(PoolManager, (manager) => Effect.map(manager.models, (all) => all.find((m) => m.id === id)))

/** Waits (polling, at most 60 s) until model `id` is in `state`. */
const awaitModel = (id: string, state: ModelState) =>
  stateOf(id).pipe(
    Effect.filterOrFail((m) => m?.state === state, () => `model ${id} is not ${state} yet`),
    Effect.retry(Schedule.spaced("20 millis")),
    Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error(`model ${id} never became ${state}`) }),
    Effect.orDie
  )

/** Lets the clock move past the current millisecond, so the next use is later than the last. */
const nextMillisecond = Effect.flatMap(
  Clock.currentTimeMillis,
  (start) =>
    Effect.repeat(Clock.currentTimeMillis, { schedule: Schedule.spaced("1 millis"), until: (now) => now > start })
)

const unloadAll = Effect.flatMap(
  PoolManager,
  (manager) => Effect.forEach(["cm-a", "cm-b", "cm-c"], (id) => manager.unload(id), { discard: true })
)

/** Registers the catalog cases on `it` (inside the suite's `layer`). */
export const catalogCases = (
  it: Vitest.MethodsNonLive<PoolManager, true>,
  fixtures: CatalogFixtures,
  timeout: number
): void => {
  it.effect(
    "models lists the catalog; load resolves ids and aliases; unknown ids fail with ModelNotFound",
    () =>
      Effect.gen(function*() {
        const manager = yield* PoolManager
        const before = yield* manager.models
        expect(before.find((m) => m.id === "cm-a")).toMatchObject({
          state: "unloaded",
          aliases: ["cm-alpha"],
          loads: 0
        })
        expect(yield* Effect.flip(manager.load("cm-nope"))).toBeInstanceOf(ModelNotFound)
        expect(yield* Effect.flip(manager.unload("cm-nope"))).toBeInstanceOf(ModelNotFound)
        const status = yield* manager.load("cm-alpha")
        expect(status).toMatchObject({ modelId: "cm-a", model: fixtures.model, ready: true })
        expect(yield* stateOf("cm-a")).toMatchObject({ state: "loaded", poolId: status.poolId, device: "0", loads: 1 })
        yield* manager.unload("cm-a")
        expect(yield* stateOf("cm-a")).toMatchObject({ state: "unloaded" })
        expect(yield* Effect.flip(manager.status(status.poolId))).toBeInstanceOf(PoolNotFound)
      }),
    timeout
  )

  it.effect(
    "a load that does not fit evicts the least recently used idle model, never one with a lease",
    () =>
      Effect.gen(function*() {
        const manager = yield* PoolManager
        const b = yield* manager.load("cm-b")
        yield* nextMillisecond
        const a = yield* manager.load("cm-a")
        yield* nextMillisecond
        const c = yield* manager.load("cm-c")
        expect(c.ready).toBe(true)
        expect((yield* stateOf("cm-b"))?.state).toBe("unloaded")
        expect((yield* stateOf("cm-a"))?.state).toBe("loaded")
        expect(yield* Effect.flip(manager.status(b.poolId))).toBeInstanceOf(PoolNotFound)
        const scope = yield* Scope.make()
        yield* Scope.extend(manager.lease(a.poolId), scope)
        yield* Scope.extend(manager.lease(c.poolId), scope)
        const refused = yield* Effect.flip(manager.load("cm-b"))
        expect(refused).toBeInstanceOf(InsufficientMemory)
        expect(refused).toMatchObject({ modelId: "cm-b", neededMb: 1_000, freeMb: 0, device: "0" })
        expect(refused.message).toContain("has leases")
        yield* Scope.close(scope, Exit.void)
        yield* unloadAll
      }),
    timeout
  )

  it.effect("concurrent loads of one model share one load", () =>
    Effect.gen(function*() {
      const manager = yield* PoolManager
      const loads = (yield* stateOf("cm-b"))?.loads ?? 0
      const statuses = yield* Effect.all([manager.load("cm-b"), manager.load("cm-b"), manager.load("cm-b")], {
        concurrency: "unbounded"
      })
      expect(new Set(statuses.map((s) => s.poolId)).size).toBe(1)
      expect(new Set(statuses.map((s) => s.handoff?.pid)).size).toBe(1)
      expect((yield* stateOf("cm-b"))?.loads).toBe(loads + 1)
      yield* unloadAll
    }), timeout)

  it.effect(
    "a crash during a load reaches every caller as ModelLoadFailed and frees its memory",
    () =>
      Effect.gen(function*() {
        const manager = yield* PoolManager
        const results = yield* Effect.all([manager.load("cm-crash"), manager.load("cm-crash")], {
          concurrency: "unbounded",
          mode: "either"
        })
        for (const result of results) {
          expect(result._tag).toBe("Left")
          if (result._tag === "Left") {
            expect(result.left).toBeInstanceOf(ModelLoadFailed)
            expect(result.left).toMatchObject({ modelId: "cm-crash" })
            if (result.left instanceof ModelLoadFailed) fixtures.onLoadFailed?.(result.left)
          }
        }
        expect((yield* stateOf("cm-crash"))?.state).toBe("unloaded")
        // the whole device is free again
        yield* manager.load("cm-a")
        yield* manager.load("cm-b")
        yield* unloadAll
      }),
    timeout
  )

  if (fixtures.slowArgs !== undefined) {
    it.effect(
      "a load whose last caller leaves is cancelled: its pool goes and its memory is freed",
      () =>
        Effect.gen(function*() {
          const manager = yield* PoolManager
          const caller = yield* Effect.fork(manager.load("cm-slow"))
          const poolId = (yield* awaitModel("cm-slow", "loading"))?.poolId
          expect(poolId).toBeDefined()
          yield* Fiber.interrupt(caller)
          yield* awaitModel("cm-slow", "unloaded")
          expect((yield* manager.list).map((s) => s.poolId)).not.toContain(poolId)
          yield* manager.load("cm-a")
          yield* manager.load("cm-b")
          yield* unloadAll
        }),
      timeout
    )
  }
}
