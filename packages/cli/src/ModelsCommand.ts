/**
 * `llama-orch models list|load|unload`.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Connection from "./Connection.js"
import { OrchestratorClient } from "./OrchestratorClient.js"
import * as Progress from "./Progress.js"
import { catalogHeader, jsonOption, modelRow, print, table } from "./Render.js"
import { CapabilityModels, ModelList, ModelSummary, PoolList } from "./WireSchemas.js"

const modelArg = Args.text({ name: "MODEL" }).pipe(Args.withDescription("the model's id or alias"))

const list = Command.make(
  "list",
  { connection: Connection.options, json: jsonOption },
  ({ connection, json }) =>
    Effect.gen(function*() {
      const client = yield* OrchestratorClient
      // --json prints the OpenAI list as it is; the table reads the capabilities, which list every
      // model with its state and footprint (one request fewer than both)
      if (json) return yield* print(json, (yield* client.get("/v1/models", ModelList)).body, () => "")
      const pools = (yield* client.get("/v2/pools", PoolList)).value.pools
      const models = (yield* client.get("/v2/meta/capabilities", CapabilityModels)).value.models
      const rows = models.map((m) => {
        const footprint = m.footprint_mb === undefined
          ? "-"
          : `${m.footprint_mb} MiB${m.footprint_source === undefined ? "" : ` (${m.footprint_source})`}`
        return [...modelRow(m.id, pools), m.state, footprint]
      })
      yield* Console.log(table(catalogHeader, rows))
    }).pipe(Connection.withClient(connection))
).pipe(
  Command.withDescription(
    "List the models: their pools' readiness, slots and queues, and whether they are loaded (with their memory)"
  )
)

const modelRoute = (model: string, action: string) => `/v2/models/${encodeURIComponent(model)}/${action}`

const describe = (m: typeof ModelSummary.Type) =>
  `${m.id} is ${m.state}${m.pool_id === undefined ? "" : ` on pool ${m.pool_id}`}${
    m.device === undefined ? "" : `, device ${m.device}`
  }`

const load = Command.make(
  "load",
  { connection: Connection.options, json: jsonOption, model: modelArg },
  ({ connection, json, model }) =>
    Effect.flatMap(OrchestratorClient, (client) =>
      client.post(modelRoute(model, "load"), {}, ModelSummary).pipe(
        Progress.during({ operation: "load", poolId: model, deadlineMs: Option.none() }),
        Effect.flatMap((answer) => print(json, answer.body, () => describe(answer.value)))
      )).pipe(Connection.withClient(connection))
).pipe(Command.withDescription("Load a catalogued model (evicting idle ones if needed) and wait until it serves"))

const unload = Command.make(
  "unload",
  { connection: Connection.options, json: jsonOption, model: modelArg },
  ({ connection, json, model }) =>
    Effect.flatMap(OrchestratorClient, (client) =>
      client.post(modelRoute(model, "unload"), {}, ModelSummary).pipe(
        Effect.flatMap((answer) => print(json, answer.body, () => describe(answer.value)))
      )).pipe(Connection.withClient(connection))
).pipe(Command.withDescription("Drain and stop the pools serving a model; it stays in the catalog"))

/**
 * `llama-orch models …`.
 *
 * @since 0.1.0
 */
export const command = Command.make("models").pipe(
  Command.withDescription("Models: list, load, unload"),
  Command.withSubcommands([list, load, unload])
)
