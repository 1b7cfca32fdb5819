/**
 * The `PoolManager` contract as an @effect/vitest suite: the assertions every implementation of the
 * tag passes — the embedded manager, pool-client over RPC, the in-memory manager — written against
 * the tag only. Run it against your own implementation (a wrapper, a cache, another transport) to
 * show it keeps the contract:
 *
 * ```ts
 * PoolManagerContract.suite("my manager", MyManager.layer, { engine: "mock" })
 * ```
 *
 * The suite runs in one `describe` on one build of the layer, with the real clock
 * (`excludeTestServices`): implementations that run engines need real time. It registers its own
 * pools (ids start with `poolIdPrefix`), preloads, leases, reloads and drains them. Needs `vitest`
 * and `@effect/vitest` (optional peer dependencies of pool-core).
 *
 * @since 0.1.0
 */
import { expect, layer } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { catalogCases, type CatalogFixtures, catalogOf } from "./internal/contractModels.js"
import { Lease } from "./Lease.js"
import {
  EngineNotAllowed,
  PoolAlreadyExists,
  PoolDraining,
  PoolNotFound,
  PoolUnready,
  ReloadFailed,
  SlotsExhausted
} from "./PoolErrors.js"
import { type PoolEvent, Snapshot, StatusChanged } from "./PoolEvent.js"
import { PoolId } from "./PoolId.js"
import { DrainOptions, PoolManager, ReloadOptions } from "./PoolManager.js"
import { PoolSpec } from "./PoolSpec.js"
import type { Handoff, PoolStatus } from "./PoolStatus.js"

/**
 * What the suite needs of the implementation under test. The layer must allow `engine`, start it on
 * `model` and `otherModel`, and fail to start it on `failingModel`.
 *
 * @category models
 * @since 0.1.0
 */
export interface ContractFixtures {
  /** The engine profile every pool of the suite names. */
  readonly engine: string
  /** A model the engine starts on (default `tiny`). */
  readonly model?: string | undefined
  /** Another model it starts on: where a reload moves a pool (default `tiny-2`). */
  readonly otherModel?: string | undefined
  /** A model the engine fails to start on: a reload to it fails and rolls back (default `broken-model`). */
  readonly failingModel?: string | undefined
  /** The start of every pool id the suite registers (default `c-`). */
  readonly poolIdPrefix?: string | undefined
  /** `startupTimeoutMs` of the suite's pool specs (default: the manager's own). */
  readonly startupTimeoutMs?: number | undefined
  /** How long the forced drain lets a held lease run, in milliseconds (default 1 500). */
  readonly forcedDrainDeadlineMs?: number | undefined
  /** Timeout of each test, in milliseconds (default 60 000). */
  readonly timeout?: number | undefined
  /** Called with every handoff the suite sees: for checks of your own (its URL, that its process ends). */
  readonly onHandoff?: ((handoff: Handoff) => void) | undefined
  /** Called with the error of the reload that fails: for checks of your own (the engine's stderr tail). */
  readonly onReloadFailed?: ((error: ReloadFailed) => void) | undefined
  /**
   * Runs the model catalog cases (`models`, `load`, `unload`) too: the layer must then be built with
   * `contractCatalog(fixtures)`'s catalog options.
   */
  readonly catalog?: ContractCatalog | undefined
}

/**
 * The catalog cases' own fixtures: engine args that crash a load and that make one slow.
 *
 * @category models
 * @since 0.1.0
 */
export type ContractCatalog = Omit<CatalogFixtures, "engine" | "model" | "failingModel">

const catalogFixtures = (fixtures: ContractFixtures): CatalogFixtures => ({
  ...fixtures.catalog,
  engine: fixtures.engine,
  model: fixtures.model ?? "tiny",
  failingModel: fixtures.failingModel ?? "broken-model"
})

/**
 * The catalog options (`models`, `devices`, `defaultMinResidencyMs`) to build the layer under test
 * with when `fixtures.catalog` is set: models `cm-a` (alias `cm-alpha`), `cm-b` and `cm-c` of 1 000
 * MiB on one device of 2 000 MiB, `cm-crash` (fails to load) and, with `slowArgs`, `cm-slow`.
 *
 * @category utils
 * @since 0.1.0
 */
export const contractCatalog = (fixtures: ContractFixtures) => catalogOf(catalogFixtures(fixtures))

/**
 * Checks `activeLeases + slotsFree == slotsTotal` and `activeLeases <= slotsTotal`.
 *
 * @category utils
 * @since 0.1.0
 */
export const checkInvariant = (status: PoolStatus): void => {
  expect(status.activeLeases + status.slotsFree).toBe(status.slotsTotal)
  expect(status.activeLeases).toBeLessThanOrEqual(status.slotsTotal)
}

/**
 * Waits, watching `events` (at most 60 seconds of real time), until the pool's status satisfies
 * `predicate`; checks the slot invariant on every status it sees.
 *
 * @category utils
 * @since 0.1.0
 */
export const awaitStatus = (
  poolId: PoolId,
  predicate: (status: PoolStatus) => boolean
): Effect.Effect<PoolStatus, never, PoolManager> =>
  Effect.flatMap(PoolManager, (manager) =>
    manager.events.pipe(
      Stream.flatMap((event) =>
        event instanceof Snapshot ? Stream.fromIterable(event.pools) : Stream.succeed(event.status)
      ),
      Stream.filter((status) => status.poolId === poolId),
      Stream.tap((status) => Effect.sync(() => checkInvariant(status))),
      Stream.filter(predicate),
      Stream.runHead,
      Effect.flatMap(Option.match({
        onNone: () => Effect.dieMessage(`events of ${poolId} ended`),
        onSome: Effect.succeed
      })),
      Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error(`${poolId}: status never matched`) }),
      Effect.orDie
    ))

/**
 * Registers the contract suite for the implementation `name`: one `describe` (`PoolManager
 * contract: name`) whose tests share one build of `managerLayer`, closed at its end.
 *
 * @category layers
 * @since 0.1.0
 */
export const suite = <E>(name: string, managerLayer: Layer.Layer<PoolManager, E>, fixtures: ContractFixtures): void => {
  const model = fixtures.model ?? "tiny"
  const otherModel = fixtures.otherModel ?? "tiny-2"
  const failingModel = fixtures.failingModel ?? "broken-model"
  const forcedDrainDeadlineMs = fixtures.forcedDrainDeadlineMs ?? 1_500
  const timeout = fixtures.timeout ?? 60_000
  const id = (name: string) => Schema.decodeSync(PoolId)(`${fixtures.poolIdPrefix ?? "c-"}${name}`)
  const specOf = (poolId: PoolId, fields: { slots?: number } = {}) =>
    PoolSpec.make({
      id: poolId,
      engine: fixtures.engine,
      model,
      slots: fields.slots ?? 1,
      preload: false,
      ...(fixtures.startupTimeoutMs === undefined ? {} : { startupTimeoutMs: fixtures.startupTimeoutMs })
    })
  const seen = (handoff: Handoff) => fixtures.onHandoff?.(handoff)
  const ready = (poolId: PoolId, slots = 1) =>
    Effect.gen(function*() {
      const manager = yield* PoolManager
      yield* manager.register(specOf(poolId, { slots }))
      const handoff = yield* manager.preload(poolId)
      seen(handoff)
      return handoff
    })

  layer(managerLayer, { excludeTestServices: true, timeout: "120 seconds" })(`PoolManager contract: ${name}`, (it) => {
    it.effect(
      "register returns the pool's status and fails typed on duplicates and unknown engines",
      () =>
        Effect.gen(function*() {
          const manager = yield* PoolManager
          const status = yield* manager.register(specOf(id("register"), { slots: 2 }))
          expect(status.poolId).toBe(id("register"))
          expect(status.state).toBe("Registered")
          expect(status.ready).toBe(false)
          expect(status.slotsTotal).toBe(2)
          checkInvariant(status)
          const duplicate = yield* Effect.flip(manager.register(specOf(id("register"))))
          expect(duplicate).toBeInstanceOf(PoolAlreadyExists)
          expect(duplicate).toMatchObject({ poolId: id("register") })
          const unknown = yield* Effect.flip(
            manager.register(PoolSpec.make({ id: id("unknown"), engine: "no-such-engine", model }))
          )
          expect(unknown).toBeInstanceOf(EngineNotAllowed)
          expect(unknown).toMatchObject({ poolId: id("unknown"), engine: "no-such-engine" })
          if (unknown instanceof EngineNotAllowed) expect(unknown.allowed).toContain(fixtures.engine)
          const listed = yield* manager.list
          expect(listed.map((s) => s.poolId)).toContain(id("register"))
          expect(listed.map((s) => s.poolId)).not.toContain(id("unknown"))
          yield* manager.remove(id("register"))
          expect(yield* Effect.flip(manager.status(id("register")))).toBeInstanceOf(PoolNotFound)
        }),
      timeout
    )

    it.effect("operations on an unknown pool fail with a typed PoolNotFound", () =>
      Effect.gen(function*() {
        const manager = yield* PoolManager
        const ghost = id("ghost")
        const errors = yield* Effect.all([
          Effect.flip(manager.status(ghost)),
          Effect.flip(manager.preload(ghost)),
          Effect.flip(manager.remove(ghost)),
          Effect.flip(manager.drain(ghost, new DrainOptions({ deadlineMs: 10 }))),
          Effect.flip(manager.reload(ghost, new ReloadOptions({}))),
          Effect.flip(Effect.scoped(manager.lease(ghost)))
        ])
        for (const error of errors) {
          expect(error).toBeInstanceOf(PoolNotFound)
          expect(error).toMatchObject({ poolId: id("ghost") })
        }
      }), timeout)

    it.effect(
      "preload resolves at Ready with a handoff that status, list and health agree on",
      () =>
        Effect.gen(function*() {
          const manager = yield* PoolManager
          const handoff = yield* ready(id("ready"), 2)
          expect(handoff.poolId).toBe(id("ready"))
          expect(handoff.url).toMatch(/^https?:\/\//)
          expect(handoff.slotsTotal).toBe(2)
          expect(handoff.model).toBe(model)
          const status = yield* manager.status(id("ready"))
          expect(status.state).toBe("Ready")
          expect(status.ready).toBe(true)
          expect(status.handoff?.url).toBe(handoff.url)
          expect(status.generation).toBe(handoff.generation)
          checkInvariant(status)
          expect((yield* manager.list).find((s) => s.poolId === id("ready"))?.ready).toBe(true)
          const health = yield* manager.health
          expect(health.pools).toBeGreaterThanOrEqual(1)
          expect(health.ready).toBeGreaterThanOrEqual(1)
        }),
      timeout
    )

    it.effect(
      "leases never exceed the slots, are released when their scope closes, then SlotsExhausted",
      () =>
        Effect.gen(function*() {
          const manager = yield* PoolManager
          const poolId = id("ready")
          const scope = yield* Scope.make()
          const first = yield* manager.lease(poolId).pipe(Scope.extend(scope))
          const second = yield* manager.lease(poolId).pipe(Scope.extend(scope))
          expect(first).toBeInstanceOf(Lease)
          expect(first.poolId).toBe(id("ready"))
          expect(first.leaseId).not.toBe(second.leaseId)
          expect(first.url).toBe((yield* manager.status(poolId)).handoff?.url)
          const held = yield* manager.status(poolId)
          expect(held.activeLeases).toBe(2)
          expect(held.slotsFree).toBe(0)
          const exhausted = yield* Effect.flip(Effect.scoped(manager.lease(poolId)))
          expect(exhausted).toBeInstanceOf(SlotsExhausted)
          expect(exhausted).toMatchObject({ poolId: id("ready"), slotsTotal: 2 })
          yield* Scope.close(scope, Exit.void)
          const released = yield* awaitStatus(poolId, (s) => s.activeLeases === 0)
          expect(released.slotsFree).toBe(2)
          // and the slots can be taken again
          yield* Effect.scoped(manager.lease(poolId))
        }),
      timeout
    )

    it.effect("a pool that is not Ready refuses leases with PoolUnready", () =>
      Effect.gen(function*() {
        const manager = yield* PoolManager
        yield* manager.register(specOf(id("cold")))
        const error = yield* Effect.flip(Effect.scoped(manager.lease(id("cold"))))
        expect(error).toBeInstanceOf(PoolUnready)
        expect(error).toMatchObject({ poolId: id("cold") })
        yield* manager.remove(id("cold"))
      }), timeout)

    it.effect(
      "events start with a Snapshot, then report every change as StatusChanged",
      () =>
        Effect.gen(function*() {
          const manager = yield* PoolManager
          const subscribed = yield* Deferred.make<void>()
          const fiber = yield* manager.events.pipe(
            Stream.tap((e) => e instanceof Snapshot ? Deferred.succeed(subscribed, undefined) : Effect.void),
            Stream.takeUntil((e) => e instanceof StatusChanged && e.status.poolId === id("events")),
            Stream.runCollect,
            Effect.fork
          )
          yield* Deferred.await(subscribed)
          yield* manager.register(specOf(id("events")))
          const events = [...(yield* Fiber.join(fiber))]
          expect(events[0]).toBeInstanceOf(Snapshot)
          const last = events[events.length - 1]
          expect(last).toBeInstanceOf(StatusChanged)
          if (last instanceof StatusChanged) {
            expect(last.status.state).toBe("Registered")
            expect(last.reason.length).toBeGreaterThan(0)
          }
          yield* manager.remove(id("events"))
        }),
      timeout
    )

    it.effect(
      "watch hands a callback the Snapshot, then the same changes as events, in the same order",
      () =>
        Effect.gen(function*() {
          const manager = yield* PoolManager
          const watched: Array<PoolEvent> = []
          const watchedSnapshot = yield* Deferred.make<void>()
          const watchedRemoval = yield* Deferred.make<void>()
          const watching = yield* Effect.fork(manager.watch((event) => {
            watched.push(event)
            if (event instanceof Snapshot) Deferred.unsafeDone(watchedSnapshot, Exit.void)
            if (event instanceof StatusChanged && event.status.poolId === id("watch") && event.reason === "removed") {
              Deferred.unsafeDone(watchedRemoval, Exit.void)
            }
          }))
          const streamedSnapshot = yield* Deferred.make<void>()
          const streamed = yield* manager.events.pipe(
            Stream.tap((e) => e instanceof Snapshot ? Deferred.succeed(streamedSnapshot, undefined) : Effect.void),
            Stream.filter((e) => e instanceof StatusChanged && e.status.poolId === id("watch")),
            Stream.takeUntil((e) => e instanceof StatusChanged && e.reason === "removed"),
            Stream.runCollect,
            Effect.fork
          )
          yield* Deferred.await(watchedSnapshot)
          yield* Deferred.await(streamedSnapshot)
          yield* manager.register(specOf(id("watch")))
          yield* manager.remove(id("watch"))
          const fromEvents = [...(yield* Fiber.join(streamed))]
          yield* Deferred.await(watchedRemoval)
          yield* Fiber.interrupt(watching)
          expect(watched[0]).toBeInstanceOf(Snapshot)
          const mine = (events: ReadonlyArray<PoolEvent>) =>
            events.flatMap((e) =>
              e instanceof StatusChanged && e.status.poolId === id("watch") ? [`${e.reason}:${e.status.state}`] : []
            )
          expect(mine(watched)).toEqual(mine(fromEvents))
          expect(mine(watched)[0]).toBe("registered:Registered")
        }),
      timeout
    )

    it.effect(
      "reload moves the pool to another model; a failed reload rolls back to the old one",
      () =>
        Effect.gen(function*() {
          const manager = yield* PoolManager
          const before = yield* ready(id("reload"))
          const outcome = yield* manager.reload(id("reload"), new ReloadOptions({ model: otherModel }))
          seen(outcome.handoff)
          expect(outcome.fromModel).toBe(model)
          expect(outcome.toModel).toBe(otherModel)
          expect(outcome.handoff.model).toBe(otherModel)
          expect(outcome.handoff.generation).toBeGreaterThan(before.generation)
          const failed = yield* Effect.flip(
            manager.reload(id("reload"), new ReloadOptions({ model: failingModel }))
          )
          expect(failed).toBeInstanceOf(ReloadFailed)
          expect(failed).toMatchObject({ poolId: id("reload"), rolledBack: true })
          if (failed instanceof ReloadFailed) fixtures.onReloadFailed?.(failed)
          const after = yield* awaitStatus(id("reload"), (s) => s.ready)
          if (after.handoff) seen(after.handoff)
          expect(after.model).toBe(otherModel)
          yield* Effect.scoped(manager.lease(id("reload")))
        }),
      timeout
    )

    it.effect("drain without leases stops the engine without forcing", () =>
      Effect.gen(function*() {
        const manager = yield* PoolManager
        yield* ready(id("drain"))
        const outcome = yield* manager.drain(id("drain"), new DrainOptions({ deadlineMs: 10_000 }))
        expect(outcome.forceStopped).toBe(false)
        expect(outcome.leasesAtDeadline).toBe(0)
        const status = yield* manager.status(id("drain"))
        expect(status.state).toBe("Stopped")
        expect(status.ready).toBe(false)
        expect(status.draining).toBe(false)
        expect(yield* Effect.flip(Effect.scoped(manager.lease(id("drain"))))).toBeInstanceOf(PoolUnready)
      }), timeout)

    it.effect(
      "drain with a held lease refuses new leases (PoolDraining) and force-stops at the deadline",
      () =>
        Effect.gen(function*() {
          const manager = yield* PoolManager
          const poolId = id("drain-forced")
          yield* ready(id("drain-forced"), 2)
          const scope = yield* Scope.make()
          yield* manager.lease(poolId).pipe(Scope.extend(scope))
          const drain = yield* Effect.fork(
            manager.drain(poolId, new DrainOptions({ deadlineMs: forcedDrainDeadlineMs }))
          )
          yield* awaitStatus(poolId, (s) => s.draining)
          const refused = yield* Effect.flip(Effect.scoped(manager.lease(poolId)))
          expect(refused).toBeInstanceOf(PoolDraining)
          const outcome = yield* Fiber.join(drain)
          expect(outcome.forceStopped).toBe(true)
          expect(outcome.leasesAtDeadline).toBe(1)
          yield* Scope.close(scope, Exit.void)
          const stopped = yield* awaitStatus(poolId, (s) => s.state === "Stopped" && s.activeLeases === 0)
          expect(stopped.draining).toBe(false)
        }),
      timeout
    )
    if (fixtures.catalog !== undefined) catalogCases(it, catalogFixtures(fixtures), timeout)
  })
}
