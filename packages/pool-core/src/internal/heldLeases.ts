/**
 * Leases held on after their holder is done, for the next holder on the same pool: a remote lease
 * costs a round trip to take and messages to give back, while one kept for a moment serves the next
 * task at once. The slot stays taken at its manager the whole time, so its accounting stays exact
 * (no two holders, here or in another process, ever get the same slot); a kept lease is given back
 * when it has been idle for `holdMs`, or at once when it may no longer be used (its pool drains,
 * reloads or stops being Ready, its node is lost).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import type { Lease } from "../Lease.js"

/** A lease taken through `HeldLeases`, with the scope that holds it at its manager. */
export interface Held<Tag> {
  /** The pool it is a slot of (as the caller names it). */
  readonly key: string
  readonly lease: Lease
  /** What the caller tied it to when it was taken (e.g. the connection it was taken on). */
  readonly tag: Tag
  readonly scope: Scope.CloseableScope
  idleSince: number
}

/** Whether a held lease may serve another holder now. */
export type Usable<Tag> = (held: Held<Tag>) => boolean

/** The leases kept for reuse, given back by a sweeper that lives in the scope it is made in. */
export interface HeldLeases<Tag> {
  /**
   * A lease of `key` for the current scope: a kept one when one is `usable`, else `fresh` (taken with
   * `tag`). When the scope closes the lease is kept for the next caller if it is still `usable`.
   */
  readonly take: <E, R>(
    key: string,
    tag: Tag,
    fresh: Effect.Effect<Lease, E, R | Scope.Scope>
  ) => Effect.Effect<Lease, E, Exclude<R, Scope.Scope> | Scope.Scope>
  /** Gives back, soon, the kept leases that are no longer usable (call it when what `usable` reads changes). */
  readonly recheck: () => void
  /** How many leases are kept idle now. */
  readonly idle: () => number
}

/**
 * Keeps leases idle for up to `holdMs` (0: gives each back when its holder is done, as without it).
 */
export const make = <Tag>(holdMs: number, usable: Usable<Tag>): Effect.Effect<HeldLeases<Tag>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const parent = yield* Effect.scope
    const idle = new Map<string, Array<Held<Tag>>>()
    const wakeups = yield* Queue.sliding<void>(1)
    let count = 0

    const giveBack = (held: Held<Tag>) => Scope.close(held.scope, Exit.void)

    /** Removes and answers the idle leases for which `drop` holds. */
    const takeOut = (drop: (held: Held<Tag>) => boolean): Array<Held<Tag>> => {
      const out: Array<Held<Tag>> = []
      for (const [key, list] of idle) {
        const kept = list.filter((held) => !drop(held))
        if (kept.length === list.length) continue
        for (const held of list) if (drop(held)) out.push(held)
        if (kept.length === 0) idle.delete(key)
        else idle.set(key, kept)
      }
      count -= out.length
      return out
    }

    const sweep = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.forEach(
        takeOut((held) => now - held.idleSince >= holdMs || !usable(held)),
        giveBack,
        { discard: true }
      ))

    if (holdMs > 0) {
      // looks every quarter of holdMs: a kept lease goes back at most 1.25 × holdMs after its last use
      yield* Effect.raceFirst(Effect.sleep(Math.max(1, Math.round(holdMs / 4))), Queue.take(wakeups)).pipe(
        Effect.zipRight(sweep),
        Effect.forever,
        Effect.forkIn(parent)
      )
    }
    // whatever is kept when the scope closes is given back with it (each held scope is a child)

    /** A kept lease of `key` that may serve now, if any; kept ones that may not are given back. */
    const reuse = (key: string): Effect.Effect<Held<Tag> | undefined> =>
      Effect.suspend(() => {
        const list = idle.get(key)
        const held = list?.pop()
        if (held === undefined) return Effect.succeed(undefined)
        count--
        if (list?.length === 0) idle.delete(key)
        return usable(held) ? Effect.succeed(held) : Effect.zipRight(giveBack(held), reuse(key))
      })

    const done = (held: Held<Tag>) =>
      Effect.suspend(() => {
        if (holdMs <= 0 || !usable(held)) return giveBack(held)
        return Effect.map(Clock.currentTimeMillis, (now) => {
          held.idleSince = now
          const list = idle.get(held.key)
          if (list === undefined) idle.set(held.key, [held])
          else list.push(held)
          count++
        })
      })

    const take = <E, R>(key: string, tag: Tag, fresh: Effect.Effect<Lease, E, R | Scope.Scope>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          let held = yield* reuse(key)
          if (held === undefined) {
            const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
            const lease = yield* restore(fresh).pipe(
              Scope.extend(scope),
              Effect.onError(() => Scope.close(scope, Exit.void))
            )
            held = { key, lease, tag, scope, idleSince: 0 }
          }
          const taken = held
          yield* Effect.scopeWith((scope) => Scope.addFinalizer(scope, done(taken)))
          return taken.lease
        })
      )

    return {
      take,
      recheck: () => {
        if (count > 0) wakeups.unsafeOffer(undefined)
      },
      idle: () => count
    }
  })
