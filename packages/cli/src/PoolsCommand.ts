/**
 * `llama-orch pools list|watch|preload|drain|reload`.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as CommandLine from "@llama-orch/daemon-kit/CommandLine"
import { ReloadStrategy } from "@llama-orch/pool-core"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { OperationFailed } from "./CliError.js"
import * as Connection from "./Connection.js"
import { OrchestratorClient } from "./OrchestratorClient.js"
import * as PoolEvents from "./PoolEvents.js"
import * as Progress from "./Progress.js"
import { duration, jsonOption, poolState, poolTable, print, printJson } from "./Render.js"
import * as Terminal from "./Terminal.js"
import { DrainAccepted, PoolList, PreloadResult, ReloadResult } from "./WireSchemas.js"

const poolArg = Args.text({ name: "POOL" }).pipe(Args.withDescription("the pool's id"))

const poolRoute = (poolId: string, action: string) => `/v2/pools/${encodeURIComponent(poolId)}/${action}`

const deadlineOption = CommandLine.integer("deadline-ms", { min: 0, max: 3_600_000 }).pipe(
  Options.withDescription("how long running work may take before the engine is stopped anyway (milliseconds)")
)

const list = Command.make(
  "list",
  { connection: Connection.options, json: jsonOption },
  ({ connection, json }) =>
    Effect.flatMap(OrchestratorClient, (client) => client.get("/v2/pools", PoolList)).pipe(
      Effect.flatMap((answer) => print(json, answer.body, () => poolTable(answer.value.pools))),
      Connection.withClient(connection)
    )
).pipe(Command.withDescription("List the pools: state, model, generation, slots, queue, restarts, last error"))

const time = () => new Date().toISOString().slice(11, 19)

const watch = Command.make(
  "watch",
  { connection: Connection.options, json: jsonOption },
  ({ connection, json }) =>
    Effect.scoped(
      PoolEvents.updates.pipe(
        Stream.runForEach((update) =>
          PoolEvents.PoolUpdate.$match(update, {
            Snapshot: ({ pools, raw }) =>
              json ? printJson({ event: "snapshot", data: raw }) : Console.log(`${poolTable(pools)}\n`),
            Status: ({ pool, raw, reason }) =>
              json ? printJson({ event: "status", data: raw }) : Console.log(
                `${time()}  ${pool.pool_id}  ${poolState(pool)}  ${reason}  slots ${
                  pool.metrics.slots_total - pool.metrics.slots_free
                }/${pool.metrics.slots_total}  queue ${pool.metrics.queue_depth}`
              )
          })
        ),
        Effect.raceFirst(Terminal.quitKey)
      )
    ).pipe(Connection.withClient(connection))
).pipe(Command.withDescription("Print every change of every pool as it happens (q quits)"))

const preload = Command.make(
  "preload",
  { connection: Connection.options, json: jsonOption, pool: poolArg },
  ({ connection, json, pool }) =>
    Effect.gen(function*() {
      const client = yield* OrchestratorClient
      const answer = yield* client.post(poolRoute(pool, "preload"), {}, PreloadResult).pipe(
        Progress.during({ operation: "preload", poolId: pool, deadlineMs: Option.none() })
      )
      const r = answer.value
      yield* print(json, answer.body, () => `${r.pool_id} is Ready: ${r.model}, generation ${r.generation} at ${r.url}`)
    }).pipe(Connection.withClient(connection))
).pipe(Command.withDescription("Start a pool's engine and wait until it is Ready"))

const stopped = (state: string) => state !== "Starting" && state !== "Ready" && state !== "Draining"

const drain = Command.make(
  "drain",
  {
    connection: Connection.options,
    json: jsonOption,
    pool: poolArg,
    deadline: deadlineOption.pipe(Options.withDefault(30_000)),
    noWait: Options.boolean("no-wait").pipe(Options.withDescription("return once draining has begun"))
  },
  ({ connection, deadline, json, noWait, pool }) =>
    Effect.gen(function*() {
      const client = yield* OrchestratorClient
      const started = Date.now()
      const answer = yield* client.post(poolRoute(pool, "drain"), { deadline_ms: deadline }, DrainAccepted)
      if (noWait) return yield* print(json, answer.body, () => `${pool} is draining (deadline ${duration(deadline)})`)
      const last = yield* PoolEvents.states.pipe(
        Stream.map((pools) => pools.get(pool)),
        Stream.filter((p) => p === undefined || stopped(p.state)),
        Stream.runHead,
        Progress.during({ operation: "drain", poolId: pool, deadlineMs: Option.some(deadline) })
      )
      const final = Option.flatMap(last, Option.fromNullable)
      if (Option.isNone(final)) {
        return yield* new OperationFailed({ detail: `pool ${pool} is gone from orchestratord's pools` })
      }
      yield* print(
        json,
        { ...(typeof answer.body === "object" ? answer.body : {}), state: final.value.state },
        () => `${pool} drained: ${final.value.state} after ${duration(Date.now() - started)}`
      )
    }).pipe(Connection.withClient(connection))
).pipe(Command.withDescription("Stop a pool taking work and wait until its engine has stopped"))

const reload = Command.make(
  "reload",
  {
    connection: Connection.options,
    json: jsonOption,
    pool: poolArg,
    model: Options.text("model").pipe(Options.withDescription("the model to serve from now on")),
    strategy: Options.choice("strategy", ReloadStrategy.literals).pipe(
      Options.withDescription("replace: stop then start; surge: start the new engine before stopping the old"),
      Options.optional
    ),
    deadline: Options.optional(deadlineOption)
  },
  ({ connection, deadline, json, model, pool, strategy }) =>
    Effect.gen(function*() {
      const client = yield* OrchestratorClient
      const body = {
        model_ref: model,
        ...Option.match(strategy, { onNone: () => ({}), onSome: (s) => ({ strategy: s }) }),
        ...Option.match(deadline, { onNone: () => ({}), onSome: (d) => ({ deadline_ms: d }) })
      }
      const answer = yield* client.post(poolRoute(pool, "reload"), body, ReloadResult).pipe(
        Progress.during({ operation: "reload", poolId: pool, deadlineMs: deadline })
      )
      const r = answer.value
      yield* print(
        json,
        answer.body,
        () =>
          `${r.pool_id} reloaded (${r.strategy}): ${r.from_model} -> ${r.to_model}, generation ${r.generation}, ${
            duration(r.duration_ms)
          }`
      )
    }).pipe(Connection.withClient(connection))
).pipe(Command.withDescription("Switch a pool to another model; on failure it serves the old one again"))

/**
 * `llama-orch pools …`.
 *
 * @since 0.1.0
 */
export const command = Command.make("pools").pipe(
  Command.withDescription("The pools: list, watch, preload, drain, reload"),
  Command.withSubcommands([list, watch, preload, drain, reload])
)
