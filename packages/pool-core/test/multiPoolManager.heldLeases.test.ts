/**
 * `MultiPoolManager` with `leaseHoldMs`: a lease whose holder is done is kept for the next lease of
 * its pool (no call to the node), its slot taken at the node all along; it is given back after
 * `leaseHoldMs` idle (on the `TestClock`), or at once when its pool drains or its node is lost.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule, TestClock } from "effect"
import { MultiPoolManager, PoolId, type PoolManagerService, PoolSpec } from "../src/index.js"
import { InMemoryPoolManager } from "../src/testing.js"
import { cuttable } from "./support/cuttable.js"

const p = PoolId.make("p")
const holdMs = 1_000

/** An in-memory node with a Ready pool `p` of two slots, counting the leases asked of it. */
const countingNode = Effect.gen(function*() {
  const { control, manager } = yield* InMemoryPoolManager.make({
    pools: [PoolSpec.make({ id: p, engine: "mock", model: "m", slots: 2 })]
  })
  const asked = { leases: 0 }
  const node: PoolManagerService = {
    ...manager,
    lease: (poolId) => Effect.zipRight(Effect.sync(() => asked.leases++), manager.lease(poolId))
  }
  return { asked, control, node, inner: manager }
})

/** The node's own count of the slots taken on `p`. */
const activeAtNode = (inner: PoolManagerService) => Effect.map(inner.status(p), (s) => s.activeLeases)

/** Waits, yielding to the other fibers but with no time passing, until `check` answers `expected`. */
const until = <A, E>(check: Effect.Effect<A, E>, expected: A) =>
  Effect.zipRight(Effect.yieldNow(), check).pipe(
    Effect.filterOrFail((seen) => seen === expected),
    Effect.retry(Schedule.recurs(100)),
    Effect.orDie
  )

const untilActive = (inner: PoolManagerService, n: number) => until(activeAtNode(inner), n)

describe("MultiPoolManager with leaseHoldMs", () => {
  it.scoped("reuses a lease whose holder is done, and gives it back after leaseHoldMs idle", () =>
    Effect.gen(function*() {
      const { asked, inner, node } = yield* countingNode
      const { manager } = yield* MultiPoolManager.make([{ name: "a", manager: node }], { leaseHoldMs: holdMs })
      const first = yield* Effect.scoped(manager.lease(PoolId.make("a/p")))
      const second = yield* Effect.scoped(manager.lease(PoolId.make("a/p")))
      expect(asked.leases).toBe(1)
      expect(second.leaseId).toBe(first.leaseId)
      expect(second.poolId).toBe("a/p")
      // kept: its slot stays taken at the node, so no one else there can have it
      expect(yield* activeAtNode(inner)).toBe(1)

      // two holders at once take two slots; both are kept afterwards
      yield* Effect.scoped(Effect.zip(manager.lease(p), manager.lease(p), { concurrent: true }))
      expect(asked.leases).toBe(2)
      expect(yield* activeAtNode(inner)).toBe(2)

      yield* TestClock.adjust(holdMs / 2)
      expect(yield* activeAtNode(inner)).toBe(2)
      yield* TestClock.adjust(2 * holdMs)
      yield* untilActive(inner, 0)
      yield* Effect.scoped(manager.lease(p))
      expect(asked.leases).toBe(3)
    }))

  it.scoped("gives a kept lease back at once when its pool drains, and takes none from a draining pool", () =>
    Effect.gen(function*() {
      const { asked, control, inner, node } = yield* countingNode
      const { manager } = yield* MultiPoolManager.make([{ name: "a", manager: node }], { leaseHoldMs: holdMs })
      yield* Effect.scoped(manager.lease(p))
      expect(yield* activeAtNode(inner)).toBe(1)
      yield* control.setState(p, "Draining")
      // no time passes: the change of the pool's status gives it back
      yield* untilActive(inner, 0)
      const refused = yield* Effect.flip(Effect.scoped(manager.lease(p)))
      expect(refused._tag).toBe("PoolDraining")
      expect(asked.leases).toBe(2)
    }))

  it.scoped("a kept lease does not outlive its node's connection", () =>
    Effect.gen(function*() {
      const { asked, inner, node } = yield* countingNode
      const link = cuttable(node)
      const multi = yield* MultiPoolManager.make([{ name: "a", manager: link.node }], {
        leaseHoldMs: holdMs,
        reconnectBaseMs: 10,
        reconnectCapMs: 10
      })
      // held across the cut: given back by its holder after the node came back on a new connection
      const heldAcross = yield* Effect.scoped(Effect.gen(function*() {
        const lease = yield* multi.manager.lease(p)
        yield* link.cut
        const nodeState = Effect.map(multi.nodes, (nodes) => nodes[0]?.state)
        yield* until(nodeState, "unreachable")
        yield* link.restore
        yield* TestClock.adjust(10)
        yield* until(nodeState, "reachable")
        return lease
      }))
      yield* untilActive(inner, 0)
      const after = yield* Effect.scoped(multi.manager.lease(p))
      expect(after.leaseId).not.toBe(heldAcross.leaseId)
      expect(asked.leases).toBe(2)
    }))

  it.scoped("without leaseHoldMs every lease is the node's and is given back when its holder is done", () =>
    Effect.gen(function*() {
      const { asked, inner, node } = yield* countingNode
      const { manager } = yield* MultiPoolManager.make([{ name: "a", manager: node }])
      yield* Effect.scoped(manager.lease(p))
      expect(yield* activeAtNode(inner)).toBe(0)
      yield* Effect.scoped(manager.lease(p))
      expect(asked.leases).toBe(2)
    }))
})
