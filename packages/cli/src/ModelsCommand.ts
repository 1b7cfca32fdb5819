/**
 * `llama-orch models list`.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Connection from "./Connection.js"
import { OrchestratorClient } from "./OrchestratorClient.js"
import { jsonOption, modelHeader, modelRow, print, table } from "./Render.js"
import { ModelList, PoolList } from "./WireSchemas.js"

const list = Command.make(
  "list",
  { connection: Connection.options, json: jsonOption },
  ({ connection, json }) =>
    Effect.gen(function*() {
      const client = yield* OrchestratorClient
      const models = yield* client.get("/v1/models", ModelList)
      if (json) return yield* print(json, models.body, () => "")
      const pools = (yield* client.get("/v2/pools", PoolList)).value.pools
      yield* print(json, models.body, () => table(modelHeader, models.value.data.map((m) => modelRow(m.id, pools))))
    }).pipe(Connection.withClient(connection))
).pipe(Command.withDescription("List the models the pools serve, with their pools' readiness and queues"))

/**
 * `llama-orch models …`.
 *
 * @since 0.1.0
 */
export const command = Command.make("models").pipe(
  Command.withDescription("Models: list"),
  Command.withSubcommands([list])
)
