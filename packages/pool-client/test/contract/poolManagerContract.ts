/**
 * The `PoolManager` contract: one suite of assertions that every implementation of the tag must
 * pass, written against the tag only. It runs against the embedded layer and against pool-client
 * talking to a pool-managerd, with the same assertions.
 *
 * The layer under test must offer the engine profile `contractEngine` (see ../support/engine.ts):
 * the real mock engine, failing to start for models named `broken*`.
 */
import { afterAll, describe, expect, layer } from "@effect/vitest"
import {
  DrainOptions,
  EngineNotAllowed,
  Lease,
  PoolAlreadyExists,
  PoolDraining,
  type PoolEvent,
  PoolId,
  PoolManager,
  PoolNotFound,
  PoolSpec,
  type PoolStatus,
  PoolUnready,
  ReloadFailed,
  ReloadOptions,
  SlotsExhausted,
  Snapshot,
  StatusChanged
} from "@llama-orch/pool-core"
import { Deferred, Effect, Exit, Fiber, type Layer, Option, Schema, Scope, Stream } from "effect"
import { contractEngine } from "../support/engine.js"
import { awaitGone } from "../support/processes.js"

/** Per-test timeout: tests start real engines on a shared, busy machine. */
const timeout = 180_000

const id = (s: string) => Schema.decodeSync(PoolId)(s)

const specOf = (poolId: string, fields: { slots?: number; preload?: boolean; model?: string } = {}) =>
  Schema.decodeUnknownSync(PoolSpec)({
    id: poolId,
    engine: contractEngine,
    model: fields.model ?? "tiny",
    slots: fields.slots ?? 1,
    preload: fields.preload ?? false,
    startupTimeoutMs: 60_000
  })

const checkInvariant = (status: PoolStatus) => {
  expect(status.activeLeases + status.slotsFree).toBe(status.slotsTotal)
  expect(status.activeLeases).toBeLessThanOrEqual(status.slotsTotal)
}

/** Waits (bounded) until the pool's status satisfies `predicate`, watching `events`. */
export const awaitStatus = (poolId: PoolId, predicate: (status: PoolStatus) => boolean) =>
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
 * Registers the contract suite for `PoolManager` implementation `name`. `managerLayer` is built once
 * for the suite and closed at its end; every engine the suite saw must be gone afterwards.
 */
export const poolManagerContract = <E>(name: string, managerLayer: Layer.Layer<PoolManager, E>) =>
  describe(`PoolManager contract: ${name}`, () => {
    const enginePids = new Set<number>()
    const ready = (poolId: string, slots = 1) =>
      Effect.gen(function*() {
        const manager = yield* PoolManager
        yield* manager.register(specOf(poolId, { slots }))
        const handoff = yield* manager.preload(id(poolId))
        enginePids.add(handoff.pid)
        return handoff
      })

    layer(managerLayer, { excludeTestServices: true, timeout: "120 seconds" })(name, (it) => {
      it.effect(
        "register returns the pool's status and fails typed on duplicates and unknown engines",
        () =>
          Effect.gen(function*() {
            const manager = yield* PoolManager
            const status = yield* manager.register(specOf("c-register", { slots: 2 }))
            expect(status.poolId).toBe("c-register")
            expect(status.state).toBe("Registered")
            expect(status.ready).toBe(false)
            expect(status.slotsTotal).toBe(2)
            checkInvariant(status)
            const duplicate = yield* Effect.flip(manager.register(specOf("c-register")))
            expect(duplicate).toBeInstanceOf(PoolAlreadyExists)
            expect(duplicate).toMatchObject({ poolId: "c-register" })
            const unknown = yield* Effect.flip(
              manager.register(Schema.decodeUnknownSync(PoolSpec)({ id: "c-unknown", engine: "nope", model: "tiny" }))
            )
            expect(unknown).toBeInstanceOf(EngineNotAllowed)
            expect(unknown).toMatchObject({ poolId: "c-unknown", engine: "nope" })
            if (unknown instanceof EngineNotAllowed) expect(unknown.allowed).toContain(contractEngine)
            const listed = yield* manager.list
            expect(listed.map((s) => s.poolId)).toContain("c-register")
            expect(listed.map((s) => s.poolId)).not.toContain("c-unknown")
            yield* manager.remove(id("c-register"))
            expect(yield* Effect.flip(manager.status(id("c-register")))).toBeInstanceOf(PoolNotFound)
          }),
        timeout
      )

      it.effect("operations on an unknown pool fail with a typed PoolNotFound", () =>
        Effect.gen(function*() {
          const manager = yield* PoolManager
          const ghost = id("c-ghost")
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
            expect(error).toMatchObject({ poolId: "c-ghost" })
          }
        }), timeout)

      it.effect(
        "preload resolves at Ready with a handoff that status, list and health agree on",
        () =>
          Effect.gen(function*() {
            const manager = yield* PoolManager
            const handoff = yield* ready("c-ready", 2)
            expect(handoff.poolId).toBe("c-ready")
            expect(handoff.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+/)
            expect(handoff.pid).toBeGreaterThan(0)
            expect(handoff.slotsTotal).toBe(2)
            expect(handoff.model).toBe("tiny")
            const status = yield* manager.status(id("c-ready"))
            expect(status.state).toBe("Ready")
            expect(status.ready).toBe(true)
            expect(status.handoff?.url).toBe(handoff.url)
            expect(status.generation).toBe(handoff.generation)
            checkInvariant(status)
            expect((yield* manager.list).find((s) => s.poolId === "c-ready")?.ready).toBe(true)
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
            const poolId = id("c-ready")
            const scope = yield* Scope.make()
            const first = yield* manager.lease(poolId).pipe(Scope.extend(scope))
            const second = yield* manager.lease(poolId).pipe(Scope.extend(scope))
            expect(first).toBeInstanceOf(Lease)
            expect(first.poolId).toBe("c-ready")
            expect(first.leaseId).not.toBe(second.leaseId)
            expect(first.url).toBe((yield* manager.status(poolId)).handoff?.url)
            const held = yield* manager.status(poolId)
            expect(held.activeLeases).toBe(2)
            expect(held.slotsFree).toBe(0)
            const exhausted = yield* Effect.flip(Effect.scoped(manager.lease(poolId)))
            expect(exhausted).toBeInstanceOf(SlotsExhausted)
            expect(exhausted).toMatchObject({ poolId: "c-ready", slotsTotal: 2 })
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
          yield* manager.register(specOf("c-cold"))
          const error = yield* Effect.flip(Effect.scoped(manager.lease(id("c-cold"))))
          expect(error).toBeInstanceOf(PoolUnready)
          expect(error).toMatchObject({ poolId: "c-cold" })
          yield* manager.remove(id("c-cold"))
        }), timeout)

      it.effect(
        "events start with a Snapshot, then report every change as StatusChanged",
        () =>
          Effect.gen(function*() {
            const manager = yield* PoolManager
            const subscribed = yield* Deferred.make<void>()
            const fiber = yield* manager.events.pipe(
              Stream.tap((e) => e instanceof Snapshot ? Deferred.succeed(subscribed, undefined) : Effect.void),
              Stream.takeUntil((e) => e instanceof StatusChanged && e.status.poolId === "c-events"),
              Stream.runCollect,
              Effect.fork
            )
            yield* Deferred.await(subscribed)
            yield* manager.register(specOf("c-events"))
            const events = [...(yield* Fiber.join(fiber))]
            expect(events[0]).toBeInstanceOf(Snapshot)
            const last = events[events.length - 1]
            expect(last).toBeInstanceOf(StatusChanged)
            if (last instanceof StatusChanged) {
              expect(last.status.state).toBe("Registered")
              expect(last.reason.length).toBeGreaterThan(0)
            }
            yield* manager.remove(id("c-events"))
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
              if (event instanceof StatusChanged && event.status.poolId === "c-watch" && event.reason === "removed") {
                Deferred.unsafeDone(watchedRemoval, Exit.void)
              }
            }))
            const streamedSnapshot = yield* Deferred.make<void>()
            const streamed = yield* manager.events.pipe(
              Stream.tap((e) => e instanceof Snapshot ? Deferred.succeed(streamedSnapshot, undefined) : Effect.void),
              Stream.filter((e) => e instanceof StatusChanged && e.status.poolId === "c-watch"),
              Stream.takeUntil((e) => e instanceof StatusChanged && e.reason === "removed"),
              Stream.runCollect,
              Effect.fork
            )
            yield* Deferred.await(watchedSnapshot)
            yield* Deferred.await(streamedSnapshot)
            yield* manager.register(specOf("c-watch"))
            yield* manager.remove(id("c-watch"))
            const fromEvents = [...(yield* Fiber.join(streamed))]
            yield* Deferred.await(watchedRemoval)
            yield* Fiber.interrupt(watching)
            expect(watched[0]).toBeInstanceOf(Snapshot)
            const mine = (events: ReadonlyArray<PoolEvent>) =>
              events.flatMap((e) =>
                e instanceof StatusChanged && e.status.poolId === "c-watch" ? [`${e.reason}:${e.status.state}`] : []
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
            const before = yield* ready("c-reload")
            const outcome = yield* manager.reload(id("c-reload"), new ReloadOptions({ model: "tiny-2" }))
            enginePids.add(outcome.handoff.pid)
            expect(outcome.fromModel).toBe("tiny")
            expect(outcome.toModel).toBe("tiny-2")
            expect(outcome.handoff.model).toBe("tiny-2")
            expect(outcome.handoff.generation).toBeGreaterThan(before.generation)
            const failed = yield* Effect.flip(
              manager.reload(id("c-reload"), new ReloadOptions({ model: "broken-model" }))
            )
            expect(failed).toBeInstanceOf(ReloadFailed)
            expect(failed).toMatchObject({ poolId: "c-reload", rolledBack: true })
            if (failed instanceof ReloadFailed) expect(failed.cause.stderrTail ?? "").toContain("simulated failure")
            const after = yield* awaitStatus(id("c-reload"), (s) => s.ready)
            if (after.handoff) enginePids.add(after.handoff.pid)
            expect(after.model).toBe("tiny-2")
            yield* Effect.scoped(manager.lease(id("c-reload")))
          }),
        timeout
      )

      it.effect("drain without leases stops the engine without forcing", () =>
        Effect.gen(function*() {
          const manager = yield* PoolManager
          yield* ready("c-drain")
          const outcome = yield* manager.drain(id("c-drain"), new DrainOptions({ deadlineMs: 10_000 }))
          expect(outcome.forceStopped).toBe(false)
          expect(outcome.leasesAtDeadline).toBe(0)
          const status = yield* manager.status(id("c-drain"))
          expect(status.state).toBe("Stopped")
          expect(status.ready).toBe(false)
          expect(status.draining).toBe(false)
          expect(yield* Effect.flip(Effect.scoped(manager.lease(id("c-drain"))))).toBeInstanceOf(PoolUnready)
        }), timeout)

      it.effect(
        "drain with a held lease refuses new leases (PoolDraining) and force-stops at the deadline",
        () =>
          Effect.gen(function*() {
            const manager = yield* PoolManager
            const poolId = id("c-drain-forced")
            yield* ready("c-drain-forced", 2)
            const scope = yield* Scope.make()
            yield* manager.lease(poolId).pipe(Scope.extend(scope))
            const drain = yield* Effect.fork(manager.drain(poolId, new DrainOptions({ deadlineMs: 1_500 })))
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
    })

    afterAll(() => Effect.runPromise(awaitGone(enginePids)))
  })
