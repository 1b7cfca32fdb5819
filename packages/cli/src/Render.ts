/**
 * How the command line prints: aligned tables for people, JSON for scripts (`--json`), and the
 * short forms of durations and pool counters both the listings and the live views use.
 *
 * @since 0.1.0
 */
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import type * as Effect from "effect/Effect"
import type { PoolView } from "./WireSchemas.js"

/**
 * Rows as a table: a header, then one line per row, columns padded to their widest cell.
 *
 * @since 0.1.0
 */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, i) => i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd()
  return [line(header), ...rows.map(line)].join("\n")
}

/**
 * Prints a value as JSON (one line: a stream of them is JSON Lines).
 *
 * @since 0.1.0
 */
export const printJson = (value: unknown): Effect.Effect<void> => Console.log(JSON.stringify(value))

/**
 * Prints `body` as JSON with `--json`, otherwise the human text `human` makes.
 *
 * @since 0.1.0
 */
export const print = (json: boolean, body: unknown, human: () => string): Effect.Effect<void> =>
  json ? printJson(body) : Console.log(human())

/**
 * A duration in milliseconds for people: `850ms`, `12.3s`, `4m05s`.
 *
 * @since 0.1.0
 */
export const duration = (ms: number): string => {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  const seconds = Math.floor(ms / 1000)
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`
}

/**
 * The header of the pool tables.
 *
 * @since 0.1.0
 */
export const poolHeader: ReadonlyArray<string> = [
  "POOL",
  "NODE",
  "STATE",
  "MODEL",
  "GEN",
  "SLOTS USED/TOTAL",
  "QUEUE",
  "RESTARTS",
  "LAST ERROR"
]

/**
 * A pool's state, with the load's progress while its engine loads.
 *
 * @since 0.1.0
 */
export const poolState = (pool: PoolView): string => {
  const loading = pool.loading
  if (loading === undefined) return pool.draining && pool.state !== "Draining" ? `${pool.state} (draining)` : pool.state
  const fraction = loading.fraction === undefined ? "" : ` ${Math.round(loading.fraction * 100)}%`
  return `${pool.state} (loading${fraction}, ${duration(loading.elapsed_ms)})`
}

/**
 * A pool as a row of the pool table.
 *
 * @since 0.1.0
 */
export const poolRow = (pool: PoolView): ReadonlyArray<string> => [
  pool.pool_id,
  pool.node === undefined ? "-" : pool.node_state === "unreachable" ? `${pool.node} (unreachable)` : pool.node,
  poolState(pool),
  pool.model,
  String(pool.generation),
  `${pool.metrics.slots_total - pool.metrics.slots_free}/${pool.metrics.slots_total}`,
  String(pool.metrics.queue_depth),
  String(pool.restarts),
  pool.last_error === undefined ? "" : `${pool.last_error.kind}: ${pool.last_error.message}`.slice(0, 60)
]

/**
 * The pools as a table, ordered by node then pool.
 *
 * @since 0.1.0
 */
export const poolTable = (pools: ReadonlyArray<PoolView>): string =>
  table(
    poolHeader,
    [...pools].sort((a, b) => (a.node ?? "").localeCompare(b.node ?? "") || a.pool_id.localeCompare(b.pool_id)).map(
      poolRow
    )
  )

/**
 * `--json`: print the API's JSON instead of a table (JSON Lines for streams).
 *
 * @since 0.1.0
 */
export const jsonOption: Options.Options<boolean> = Options.boolean("json").pipe(
  Options.withDescription("print the API's JSON (one object per line for streams) instead of a table")
)

/**
 * The header of the model tables.
 *
 * @since 0.1.0
 */
export const modelHeader: ReadonlyArray<string> = ["MODEL", "POOLS READY/TOTAL", "SLOTS USED/TOTAL", "QUEUED"]

/**
 * A model as a row of the model table: its pools' readiness, slots and queues summed.
 *
 * @since 0.1.0
 */
export const modelRow = (model: string, pools: ReadonlyArray<PoolView>): ReadonlyArray<string> => {
  const serving = pools.filter((pool) => pool.model === model)
  const sum = (f: (pool: PoolView) => number) => serving.reduce((n, pool) => n + f(pool), 0)
  const total = sum((pool) => pool.metrics.slots_total)
  return [
    model,
    `${serving.filter((pool) => pool.ready).length}/${serving.length}`,
    `${total - sum((pool) => pool.metrics.slots_free)}/${total}`,
    String(sum((pool) => pool.metrics.queue_depth))
  ]
}
