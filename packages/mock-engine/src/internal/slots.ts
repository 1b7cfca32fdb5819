/**
 * Slots: at most N generations at once, later requests wait in strict arrival order (FIFO) and
 * get the id of the slot they run on. Waiting is interruptible without losing a slot.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as SynchronizedRef from "effect/SynchronizedRef"

interface State {
  readonly free: ReadonlyArray<number>
  readonly waiters: ReadonlyArray<Deferred.Deferred<number>>
}

/** A FIFO pool of slot ids. */
export interface SlotPool {
  /** Waits for a slot (FIFO) and holds it until the scope closes. */
  readonly acquire: Effect.Effect<number, never, Scope.Scope>
}

/** Makes a pool of `count` slots, ids `0 .. count - 1`. */
export const makeSlotPool = (count: number): Effect.Effect<SlotPool> =>
  Effect.map(
    SynchronizedRef.make<State>({ free: Array.from({ length: count }, (_, i) => i), waiters: [] }),
    (state) => {
      /** Hands a slot to the oldest waiter, or puts it back. Runs inside the state lock. */
      const handOver = (s: State, slot: number): Effect.Effect<State> => {
        const [next, ...rest] = s.waiters
        return next === undefined ?
          Effect.succeed({ ...s, free: [...s.free, slot].sort((a, b) => a - b) }) :
          Effect.as(Deferred.succeed(next, slot), { ...s, waiters: rest })
      }
      const release = (slot: number) => SynchronizedRef.updateEffect(state, (s) => handOver(s, slot))

      /** Gives up waiting: leaves the line, or passes on a slot that was handed over meanwhile. */
      const cancel = (waiter: Deferred.Deferred<number>) =>
        SynchronizedRef.updateEffect(state, (s) =>
          Effect.flatMap(Deferred.poll(waiter), (handed) =>
            Option.isSome(handed) ?
              Effect.flatMap(handed.value, (slot) =>
                handOver(s, slot)) :
              Effect.succeed({ ...s, waiters: s.waiters.filter((w) => w !== waiter) })))

      const acquire = Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const waiter = yield* Deferred.make<number>()
          const immediate = yield* SynchronizedRef.modify(state, (s): [Option.Option<number>, State] => {
            const [first, ...rest] = s.free
            return first !== undefined && s.waiters.length === 0 ?
              [Option.some(first), { ...s, free: rest }] :
              [Option.none(), { ...s, waiters: [...s.waiters, waiter] }]
          })
          const slot = Option.isSome(immediate) ? immediate.value : yield* restore(Deferred.await(waiter)).pipe(
            Effect.onExit((exit) =>
              Exit.isInterrupted(exit) ? cancel(waiter) : Effect.void
            )
          )
          yield* Effect.addFinalizer(() => release(slot))
          return slot
        })
      )
      return { acquire }
    }
  )
