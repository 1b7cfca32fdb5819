/**
 * `GET /health` of a served pool manager, as pool-managerd answers it (no authentication): the
 * manager's version, uptime and each pool's state, in snake_case JSON.
 *
 * @since 0.1.0
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { PoolManager, PoolState } from "@llama-orch/pool-core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

/**
 * The body of `GET /health`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const HealthBody = Schema.Struct({
  status: Schema.Literal("ok"),
  version: Schema.String,
  uptime_ms: Schema.Number,
  pools_total: Schema.Int,
  pools_ready: Schema.Int,
  pools: Schema.Array(Schema.Struct({
    pool_id: Schema.String,
    engine: Schema.String,
    model: Schema.String,
    state: PoolState,
    ready: Schema.Boolean,
    slots_total: Schema.Int,
    slots_free: Schema.Int,
    active_leases: Schema.Int
  }))
})

/**
 * The `/health` route for the `PoolManager` in context.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<never, never, HttpLayerRouter.HttpRouter | PoolManager> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const manager = yield* PoolManager
    const handler = Effect.gen(function*() {
      const [health, pools] = yield* Effect.all([manager.health, manager.list])
      return yield* HttpServerResponse.schemaJson(HealthBody)({
        status: "ok",
        version: health.version,
        uptime_ms: health.uptimeMs,
        pools_total: health.pools,
        pools_ready: health.ready,
        pools: pools.map((p) => ({
          pool_id: p.poolId,
          engine: p.engine,
          model: p.model,
          state: p.state,
          ready: p.ready,
          slots_total: p.slotsTotal,
          slots_free: p.slotsFree,
          active_leases: p.activeLeases
        }))
      })
    }).pipe(
      Effect.catchAll((error) =>
        Effect.as(
          Effect.logError("Health check failed.", error),
          HttpServerResponse.unsafeJson({ status: "error" }, { status: 500 })
        )
      )
    )
    return HttpLayerRouter.add("GET", "/health", handler)
  })
)
