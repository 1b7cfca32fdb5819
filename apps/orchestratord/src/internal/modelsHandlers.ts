/**
 * The handlers of the model routes: `POST /v2/models/{id}/load` and `/unload`, through the pool
 * manager's catalog.
 *
 * @internal
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ModelNotFound, PoolManager } from "@llama-orch/pool-core"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { OrchestratorApi } from "../Api.js"
import { fromPoolError } from "../ApiFailure.js"
import { ModelSummary } from "../WireSchemas.js"
import { findModel, toModelSummary } from "./poolViews.js"
import { recover } from "./respond.js"

const encodeSummary = Schema.encodeSync(ModelSummary)

/** The handlers of `/v2/models`: load and unload on the `PoolManager`, answering the model's state. */
export const ModelsLive = HttpApiBuilder.group(OrchestratorApi, "models", (handlers) =>
  Effect.gen(function*() {
    const pools = yield* PoolManager
    const summaryOf = (name: string) =>
      pools.models.pipe(
        Effect.flatMap((models) => {
          const model = findModel(models, name)
          return model === undefined
            ? Effect.fail(new ModelNotFound({ modelId: name }))
            : Effect.succeed(HttpServerResponse.unsafeJson(encodeSummary(toModelSummary(model))))
        })
      )
    return handlers
      .handleRaw("load", ({ path }) =>
        pools.load(path.id).pipe(
          Effect.tap((status) =>
            Effect.logInfo("Model loaded through the control plane.").pipe(
              Effect.annotateLogs({ model: path.id, pool_id: status.poolId })
            )
          ),
          Effect.zipRight(summaryOf(path.id)),
          Effect.mapError(fromPoolError),
          recover
        ))
      .handleRaw("unload", ({ path }) =>
        pools.unload(path.id).pipe(
          Effect.tap(() =>
            Effect.logInfo("Model unloaded through the control plane.").pipe(Effect.annotateLogs({ model: path.id }))
          ),
          Effect.zipRight(summaryOf(path.id)),
          Effect.mapError(fromPoolError),
          recover
        ))
  }))
