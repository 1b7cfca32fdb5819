import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Scope } from "effect"
import { makeSlotPool } from "../src/internal/slots.js"

/** Acquires a slot in a fresh scope and returns both. */
const hold = (pool: { readonly acquire: Effect.Effect<number, never, Scope.Scope> }) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const slot = yield* Scope.extend(pool.acquire, scope)
    return { slot, scope }
  })

describe("SlotPool", () => {
  it.effect("hands out distinct slot ids up to the count", () =>
    Effect.gen(function*() {
      const pool = yield* makeSlotPool(2)
      const a = yield* hold(pool)
      const b = yield* hold(pool)
      expect([a.slot, b.slot]).toEqual([0, 1])
      const third = yield* Effect.fork(hold(pool))
      yield* Effect.yieldNow()
      expect(Option.isNone(yield* Fiber.poll(third))).toBe(true)
      yield* Scope.close(b.scope, Exit.void)
      expect((yield* Fiber.join(third)).slot).toBe(1)
    }))

  it.effect("serves waiters in arrival order", () =>
    Effect.gen(function*() {
      const pool = yield* makeSlotPool(1)
      const first = yield* hold(pool)
      const order: Array<string> = []
      const waiter = (name: string) =>
        Effect.fork(Effect.tap(hold(pool), (held) => Effect.sync(() => order.push(name)).pipe(Effect.as(held))))
      const second = yield* waiter("second")
      yield* Effect.yieldNow()
      const third = yield* waiter("third")
      yield* Effect.yieldNow()
      yield* Scope.close(first.scope, Exit.void)
      const s = yield* Fiber.join(second)
      yield* Scope.close(s.scope, Exit.void)
      yield* Fiber.join(third)
      expect(order).toEqual(["second", "third"])
    }))

  it.effect("an interrupted waiter leaves the line without taking a slot", () =>
    Effect.gen(function*() {
      const pool = yield* makeSlotPool(1)
      const first = yield* hold(pool)
      const quitter = yield* Effect.fork(hold(pool))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(quitter)
      yield* Scope.close(first.scope, Exit.void)
      const next = yield* hold(pool)
      expect(next.slot).toBe(0)
    }))

  it.effect("a slot handed to a waiter interrupted at that moment is passed on", () =>
    Effect.gen(function*() {
      const pool = yield* makeSlotPool(1)
      const first = yield* hold(pool)
      const unlucky = yield* Effect.fork(hold(pool))
      yield* Effect.yieldNow()
      const next = yield* Effect.fork(hold(pool))
      yield* Effect.yieldNow()
      // The release hands the slot to `unlucky`, which is interrupted before it resumes.
      yield* Scope.close(first.scope, Exit.void)
      yield* Fiber.interrupt(unlucky)
      const held = yield* Fiber.join(next)
      expect(held.slot).toBe(0)
    }))
})
