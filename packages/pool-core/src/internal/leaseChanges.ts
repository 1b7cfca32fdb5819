/**
 * Conflating lease changes for a watcher that fell behind: a lease taken or given back changes only
 * a pool's lease counts, so when a later change of the same pool waits in the same batch, it stands
 * for the lease change before it. Every other change (state, generation, errors) is kept, in order,
 * and the last status of every pool in the batch is the one delivered.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import type { PoolEvent } from "../PoolEvent.js"

/** The reasons of the changes that take or give back a lease. */
export const leaseAcquired = "lease-acquired"
/** See `leaseAcquired`. */
export const leaseReleased = "lease-released"

const isLeaseChange = (event: PoolEvent): boolean =>
  event._tag === "StatusChanged" && (event.reason === leaseAcquired || event.reason === leaseReleased)

/** `events` without the lease changes that a later change of the same pool in `events` supersedes. */
export const collapse = (events: Chunk.Chunk<PoolEvent>): Chunk.Chunk<PoolEvent> => {
  if (Chunk.size(events) < 2) return events
  const all = Chunk.toReadonlyArray(events)
  const later = new Set<string>()
  const kept: Array<PoolEvent> = []
  let dropped = false
  for (let i = all.length - 1; i >= 0; i--) {
    const event = all[i]!
    if (event._tag !== "StatusChanged") {
      kept.push(event)
      continue
    }
    const poolId = event.status.poolId
    if (isLeaseChange(event) && later.has(poolId)) {
      dropped = true
      continue
    }
    later.add(poolId)
    kept.push(event)
  }
  return dropped ? Chunk.unsafeFromArray(kept.reverse()) : events
}
