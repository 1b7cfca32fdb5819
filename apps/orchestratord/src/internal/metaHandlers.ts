/**
 * The handlers of the `meta` group of the HTTP API: `capabilities`, `health` and `ready`.
 *
 * @internal
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { PoolManager } from "@llama-orch/pool-core"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { OrchestratorApi } from "../Api.js"
import { fromPoolError } from "../ApiFailure.js"
import { apiVersion } from "../ServerSettings.js"
import { Capabilities, Liveness } from "../WireSchemas.js"
import { toCapabilities, toModelSummary } from "./poolViews.js"
import { recover } from "./respond.js"

const encodeCapabilities = Schema.encodeSync(Capabilities)
const encodeLiveness = Schema.encodeSync(Liveness)

/** The handlers of the meta routes. */
export const MetaLive = HttpApiBuilder.group(OrchestratorApi, "meta", (handlers) =>
  Effect.gen(function*() {
    const pools = yield* PoolManager
    return handlers
      .handleRaw("capabilities", () =>
        Effect.all([pools.list, pools.models], { concurrency: 2 }).pipe(
          Effect.mapError(fromPoolError),
          Effect.map(([statuses, models]) =>
            HttpServerResponse.unsafeJson(
              encodeCapabilities(
                new Capabilities({
                  apiVersion,
                  pools: statuses.map(toCapabilities),
                  models: models.map(toModelSummary)
                })
              )
            )
          ),
          recover
        ))
      .handleRaw("health", () =>
        Effect.succeed(HttpServerResponse.unsafeJson(encodeLiveness(new Liveness({ status: "ok" })))))
      .handleRaw("ready", () =>
        pools.health.pipe(
          Effect.map((health) =>
            HttpServerResponse.unsafeJson(
              encodeLiveness(
                new Liveness({
                  status: health.ready > 0 ? "ready" : "unready",
                  pools: health.pools,
                  readyPools: health.ready
                })
              ),
              { status: health.ready > 0 ? 200 : 503 }
            )
          ),
          Effect.catchAll(() =>
            Effect.succeed(
              HttpServerResponse.unsafeJson(encodeLiveness(new Liveness({ status: "unready" })), { status: 503 })
            )
          )
        ))
  }))
