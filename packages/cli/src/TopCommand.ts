/**
 * `llama-orch top`: a live full-screen view of the pools (by node: state, generation, slots,
 * queue, restarts, last error), the queues by model, the recent tasks (state, time to first token,
 * tokens per second) and the latest pool events, redrawn on every event of orchestratord's pool
 * and task activity streams (no polling). `q` quits.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Connection from "./Connection.js"
import { OrchestratorClient } from "./OrchestratorClient.js"
import * as PoolEvents from "./PoolEvents.js"
import { duration, modelHeader, modelRow, poolState, poolTable, table } from "./Render.js"
import * as TaskActivity from "./TaskActivity.js"
import * as Terminal from "./Terminal.js"
import type { PoolView, TaskStatus } from "./WireSchemas.js"

/**
 * What the view shows: the pools, the recent tasks and the latest pool events, newest first.
 *
 * @since 0.1.0
 */
export interface View {
  readonly pools: ReadonlyMap<string, PoolView>
  readonly tasks: ReadonlyArray<TaskStatus>
  readonly recent: ReadonlyArray<string>
}

const recentKept = 8
const tasksKept = 10

/**
 * What changes the view: a pool update or a task activity update.
 *
 * @since 0.1.0
 */
export type Update =
  | { readonly _tag: "Pool"; readonly update: PoolEvents.PoolUpdate }
  | { readonly _tag: "Activity"; readonly update: TaskActivity.ActivityUpdate }

/** The tasks after an activity update: the newest `tasksKept`, newest first. */
const withTasks = (tasks: ReadonlyArray<TaskStatus>, update: TaskActivity.ActivityUpdate) => {
  const changed = new Set(update.tasks.map((t) => t.task_id))
  const kept = update.snapshot ? [] : tasks.filter((t) => !changed.has(t.task_id))
  return [...update.tasks, ...kept].sort((a, b) => b.submitted_at_ms - a.submitted_at_ms).slice(0, tasksKept)
}

/**
 * The view after an update.
 *
 * @since 0.1.0
 */
export const step = (view: View, change: Update): View =>
  change._tag === "Activity" ? { ...view, tasks: withTasks(view.tasks, change.update) } : stepPools(view, change.update)

const stepPools = (view: View, update: PoolEvents.PoolUpdate): View => ({
  ...view,
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

/** A task as a row: time to first token from submission, tokens per second since the first token. */
const taskRow = (task: TaskStatus): ReadonlyArray<string> => {
  const first = task.first_token_at_ms
  const end = task.ended_at_ms ?? Date.now()
  const rate = first === undefined || end <= first ? "-" : (task.tokens_out / ((end - first) / 1000)).toFixed(1)
  return [
    task.task_id.slice(0, 8),
    task.state,
    task.model_ref,
    task.pool_id ?? "-",
    String(task.tokens_out),
    first === undefined ? "-" : duration(first - task.submitted_at_ms),
    rate
  ]
}

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
    "RECENT TASKS",
    table(["TASK", "STATE", "MODEL", "POOL", "TOKENS OUT", "FIRST TOKEN", "TOKENS/S"], view.tasks.map(taskRow)),
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
      const initial: View = { pools: new Map(), tasks: [], recent: [] }
      yield* Stream.merge(
        Stream.map(PoolEvents.updates, (update): Update => ({ _tag: "Pool", update })),
        Stream.map(TaskActivity.updates, (update): Update => ({ _tag: "Activity", update }))
      ).pipe(
        Stream.scan(initial, step),
        Stream.drop(1),
        Stream.runForEach((view) => Terminal.draw(render(client.url, view))),
        Effect.raceFirst(Terminal.quitKey)
      )
    }).pipe(Effect.scoped, Connection.withClient(connection))
).pipe(Command.withDescription("A live view of the pools, slots, queues, recent tasks and pool events (q quits)"))
