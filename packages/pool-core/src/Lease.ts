/**
 * Leases: one slot of a Ready pool, held for as long as the lease's scope is open.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { EngineProtocol } from "./EngineProfile.js"
import { PoolId } from "./PoolId.js"

/**
 * A granted slot. Send work to `url` with the engine's `protocol` (and `apiKey`, when there is one);
 * the slot is returned when the scope the lease was taken in closes.
 *
 * @category models
 * @since 0.1.0
 */
export class Lease extends Schema.Class<Lease>("Lease")({
  leaseId: Schema.String,
  poolId: PoolId,
  generation: Schema.Int,
  url: Schema.String,
  engine: Schema.String,
  protocol: EngineProtocol,
  model: Schema.String,
  /**
   * The engine's API key, when its profile starts it with one (`{api_key}`): send it as
   * `Authorization: Bearer`. Redacted, so it prints as `<redacted>`; on the wire only to the lease holder.
   */
  apiKey: Schema.optional(Schema.Redacted(Schema.String))
}) {}
