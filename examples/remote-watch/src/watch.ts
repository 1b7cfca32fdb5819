/** The watcher: every pool event of a `PoolManager` as one readable line. */
import { type PoolEvent, PoolManager, type PoolStatus } from "@llama-orch/pool-core"
import { Effect, Stream } from "effect"

const describe = (s: PoolStatus) =>
  `${s.poolId} ${s.state} model=${s.model} slots=${s.slotsFree}/${s.slotsTotal}${
    s.lastError ? ` error=${s.lastError.message}` : ""
  }`

/** One line per event: a snapshot lists every pool, a change names the pool and why. */
export const formatEvent = (event: PoolEvent): string =>
  event._tag === "Snapshot"
    ? `snapshot: ${event.pools.length === 0 ? "(no pools)" : event.pools.map(describe).join("; ")}`
    : `${describe(event.status)} (${event.reason})`

/** The event lines of the `PoolManager` in context (remote or embedded: the watcher cannot tell). */
export const watchLines = Stream.unwrap(Effect.map(PoolManager, (pools) => Stream.map(pools.events, formatEvent)))
