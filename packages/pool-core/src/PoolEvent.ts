/**
 * Pool events: a `Snapshot` of every pool first, then a `StatusChanged` for every change.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { PoolStatus } from "./PoolStatus.js"

/**
 * The state of every pool when a subscription starts (or restarts after a reconnect).
 *
 * @category models
 * @since 0.1.0
 */
export class Snapshot extends Schema.TaggedClass<Snapshot>()("Snapshot", {
  pools: Schema.Array(PoolStatus)
}) {}

/**
 * One pool changed; `reason` says why in a few words (for example `ready`, `lease-acquired`).
 *
 * @category models
 * @since 0.1.0
 */
export class StatusChanged extends Schema.TaggedClass<StatusChanged>()("StatusChanged", {
  status: PoolStatus,
  reason: Schema.String
}) {}

/**
 * An event of the pool manager's `events` stream.
 *
 * @category schemas
 * @since 0.1.0
 */
export const PoolEvent = Schema.Union(Snapshot, StatusChanged)

/**
 * A value of the `PoolEvent` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type PoolEvent = typeof PoolEvent.Type
