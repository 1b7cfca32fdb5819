/**
 * Conflating lease changes for a watcher that fell behind (`Watch` over RPC): a property test of the
 * batch rule. Over the wire in test/rpc/watch.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, FastCheck as fc } from "effect"
import { type PoolEvent, PoolId, PoolStatus, Snapshot, StatusChanged } from "../src/index.js"
import { collapse } from "../src/internal/leaseChanges.js"

const reasons = ["lease-acquired", "lease-released", "ready", "crashed", "registered"] as const

/** A change of `pool`; its `generation` numbers it, so that kept events can be told apart. */
const change = (pool: string, reason: string, n: number) =>
  new StatusChanged({
    status: new PoolStatus({
      poolId: PoolId.make(pool),
      state: "Ready",
      live: true,
      ready: true,
      draining: false,
      engine: "mock",
      protocol: "llamacpp",
      model: "m",
      ctxMax: 4096,
      slotsTotal: 4,
      slotsFree: 4,
      activeLeases: 0,
      generation: n,
      restarts: 0
    }),
    reason
  })

const batch = fc.array(fc.tuple(fc.constantFrom("p1", "p2", "p3"), fc.constantFrom(...reasons)), { maxLength: 40 })
  .map((steps): ReadonlyArray<PoolEvent> => steps.map(([pool, reason], n) => change(pool, reason, n)))

const isLease = (event: PoolEvent) =>
  event instanceof StatusChanged && (event.reason === "lease-acquired" || event.reason === "lease-released")

const lastOf = (events: ReadonlyArray<PoolEvent>) => {
  const last = new Map<string, PoolEvent>()
  for (const event of events) if (event instanceof StatusChanged) last.set(event.status.poolId, event)
  return last
}

describe("lease changes of a watcher that fell behind", () => {
  it.prop("keep every other change in order, and each pool's last status", [batch], ([events]) => {
    const kept = Chunk.toReadonlyArray(collapse(Chunk.fromIterable(events)))
    // a subsequence of the batch
    let at = 0
    for (const event of kept) {
      at = events.indexOf(event, at)
      expect(at).toBeGreaterThanOrEqual(0)
      at++
    }
    expect(kept.filter((e) => !isLease(e))).toEqual(events.filter((e) => !isLease(e)))
    expect(lastOf(kept)).toEqual(lastOf(events))
    // a lease change goes only when a later change of its pool follows it
    for (const [i, event] of events.entries()) {
      if (kept.includes(event) || !(event instanceof StatusChanged)) continue
      const poolId = event.status.poolId
      expect(events.slice(i + 1).some((e) => e instanceof StatusChanged && e.status.poolId === poolId)).toBe(true)
    }
  })

  it("folds a pool's run of leases into its last one, across other pools' changes and a snapshot", () => {
    const events = [
      new Snapshot({ pools: [] }),
      change("p1", "lease-acquired", 1),
      change("p2", "lease-acquired", 2),
      change("p1", "lease-released", 3),
      change("p2", "crashed", 4),
      change("p1", "lease-acquired", 5)
    ]
    const kept = Chunk.toReadonlyArray(collapse(Chunk.fromIterable(events)))
    expect(kept.map((e) => e instanceof StatusChanged ? `${e.status.poolId}:${e.reason}` : e._tag)).toEqual([
      "Snapshot",
      "p2:crashed",
      "p1:lease-acquired"
    ])
    const single = Chunk.of(change("p1", "lease-released", 1))
    expect(collapse(single)).toBe(single)
  })
})
