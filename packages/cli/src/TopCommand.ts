/**
 * `llama-orch top`: a live full-screen view of the pools (by node: state, generation, slots,
 * queue, restarts, last error), the queues by model and the latest pool events, redrawn on every
 * event of orchestratord's pool event stream (no polling). `q` quits.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Connection from "./Connection.js"
import { OrchestratorClient } from "./OrchestratorClient.js"
import * as PoolEvents from "./PoolEvents.js"
import { modelHeader, modelRow, poolState, poolTable, table } from "./Render.js"
import * as Terminal from "./Terminal.js"
import type { PoolView } from "./WireSchemas.js"

/**
 * What the view shows: the pools and the latest events, newest first.
 *
 * @since 0.1.0
 */
export interface View {
  readonly pools: ReadonlyMap<string, PoolView>
  readonly recent: ReadonlyArray<string>
}

const recentKept = 12

/**
 * The view after an update.
 *
 * @since 0.1.0
 */
export const step = (view: View, update: PoolEvents.PoolUpdate): View => ({
  pools: PoolEvents.apply(view.pools, update),
  recent: update._tag === "Status"
    ? [
      `${new Date().toISOString().slice(11, 19)}  ${update.pool.pool_id}  ${update.reason}  -> ${
        poolState(update.pool)
      }`,
      ...view.recent
    ].slice(0, recentKept)
    : view.recent
})

/**
 * The screen's text for a view.
 *
 * @since 0.1.0
 */
export const render = (url: string, view: View): string => {
  const pools = [...view.pools.values()]
  const models = [...new Set(pools.map((pool) => pool.model))].sort()
  const ready = pools.filter((pool) => pool.ready).length
  return [
    `llama-orch top  ${url}  ${pools.length} pools, ${ready} ready  (q quits)`,
    "",
    poolTable(pools),
    "",
    table(modelHeader, models.map((model) => modelRow(model, pools))),
    "",
    "RECENT POOL EVENTS",
    ...(view.recent.length === 0 ? ["(none yet)"] : view.recent)
  ].join("\n")
}

/**
 * `llama-orch top`.
 *
 * @since 0.1.0
 */
export const command = Command.make(
  "top",
  { connection: Connection.options },
  ({ connection }) =>
    Effect.gen(function*() {
      const client = yield* OrchestratorClient
      yield* Terminal.fullScreen
      const initial: View = { pools: new Map(), recent: [] }
      yield* PoolEvents.updates.pipe(
        Stream.scan(initial, step),
        Stream.drop(1),
        Stream.runForEach((view) => Terminal.draw(render(client.url, view))),
        Effect.raceFirst(Terminal.quitKey)
      )
    }).pipe(Effect.scoped, Connection.withClient(connection))
).pipe(Command.withDescription("A live view of the pools, slots, queues and pool events (q quits)"))
