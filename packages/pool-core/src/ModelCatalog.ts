/**
 * The model catalog: the models a manager can serve on demand, apart from its pools. A catalogued
 * model has a public id (and aliases), an engine profile, a model file, its engine's settings and
 * a memory footprint; `PoolManager.load` starts a pool for it when asked, and the manager unloads it
 * again to make room or when it has been idle long enough.
 *
 * A model's life: `unloaded` → `loading` → `loaded` → `evicting` → `unloaded` (a failed or
 * abandoned load goes back to `unloaded`).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { DeviceId, DeviceList } from "./Devices.js"
import { ModelRef } from "./PoolSpec.js"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())

/**
 * A public model id (or alias): what clients ask for, e.g. `qwen2.5-7b` or `llama3:8b`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const ModelId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$/, {
    message: () => "a model id is 1 to 128 characters: letters, digits and . _ : @ + -, starting with a letter or digit"
  }),
  Schema.annotations({ identifier: "ModelId" })
)

/**
 * One model of the catalog. `footprintMb` is the device memory its engine takes (declared);
 * without it the model fits anywhere. `idleTtlMs` and `minResidencyMs` fall back to the manager's
 * defaults; `keepLoaded` pins the model once loaded (never evicted, never unloaded for idleness);
 * `device` pins it to one device.
 *
 * @category models
 * @since 0.1.0
 */
export class CatalogModel extends Schema.Class<CatalogModel>("CatalogModel")({
  /** The public model id. */
  id: ModelId,
  /** Other ids that name this model. */
  aliases: Schema.optionalWith(Schema.Array(ModelId), { default: () => [] }),
  /** The engine profile that runs it (as `PoolSpec.engine`). */
  engine: Schema.NonEmptyTrimmedString,
  /** The model file, under the manager's model directory. */
  model: ModelRef,
  /** Extra engine arguments, after the profile's (same placeholders). */
  args: Schema.optional(Schema.Array(Schema.String)),
  /** Slots of its pool. */
  slots: Schema.optionalWith(PositiveInt.pipe(Schema.lessThanOrEqualTo(1024)), { default: () => 1 }),
  /** Context size of its pool. */
  ctxMax: Schema.optionalWith(PositiveInt, { default: () => 4096 }),
  /** Device memory its engine takes, in MiB (declared). */
  footprintMb: Schema.optional(NonNegativeInt),
  /** Unloaded after this long without a lease, in milliseconds (default: the manager's). */
  idleTtlMs: Schema.optional(PositiveInt),
  /** Never evicted and never unloaded for idleness once loaded. */
  keepLoaded: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** Not evicted to make room before it has been loaded this long, in milliseconds (default: the manager's). */
  minResidencyMs: Schema.optional(NonNegativeInt),
  /** The device it must run on. */
  device: Schema.optional(DeviceId)
}) {}

/**
 * Where a model is in its life.
 *
 * @category schemas
 * @since 0.1.0
 */
export const ModelState = Schema.Literal("unloaded", "loading", "loaded", "evicting")

/**
 * A value of the `ModelState` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type ModelState = typeof ModelState.Type

/**
 * Where a footprint comes from: the catalog (`declared`), the model file's header (`estimated`) or
 * what its engine was seen to use (`learned`).
 *
 * @category schemas
 * @since 0.1.0
 */
export const FootprintSource = Schema.Literal("declared", "estimated", "learned")

/**
 * A value of the `FootprintSource` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type FootprintSource = typeof FootprintSource.Type

/**
 * A servable model and its state: every catalogued model, and the model of every fixed pool (listed
 * as `loaded`, under its pool's `modelId ?? model`).
 *
 * @category models
 * @since 0.1.0
 */
export class ModelStatus extends Schema.Class<ModelStatus>("ModelStatus")({
  id: Schema.String,
  aliases: Schema.Array(Schema.String),
  engine: Schema.String,
  state: ModelState,
  /** The pool serving it (while loading, loaded or evicting). */
  poolId: Schema.optional(Schema.String),
  /** The node of its manager, in a cluster. */
  node: Schema.optional(Schema.String),
  /** The device it runs on (or is reserved on). */
  device: Schema.optional(Schema.String),
  footprintMb: Schema.optional(Schema.Number),
  footprintSource: Schema.optional(FootprintSource),
  /** When a lease on its pool last ended (or it was loaded), epoch milliseconds. */
  lastUsedAt: Schema.optional(Schema.Number),
  /** How many times it was loaded since the manager started. */
  loads: Schema.Int,
  /** Served by a pool of the configuration, not by the catalog: `load` does not start one for it. */
  fixed: Schema.optionalWith(Schema.Boolean, { default: () => false })
}) {}

/**
 * The catalog's options of a manager (embedded and in-memory alike), with their defaults.
 *
 * @category utils
 * @since 0.1.0
 */
export const catalogFields = {
  /** The model catalog: models `load` starts pools for on demand (default none). */
  models: Schema.optionalWith(Schema.Array(CatalogModel), { default: () => [] }),
  /**
   * The devices models are placed on. Absent: the embedded manager asks `nvidia-smi` (when on `PATH`
   * and models are catalogued); none: no memory accounting, everything fits.
   */
  devices: Schema.optional(DeviceList),
  /** Idle time after which a catalogued model is unloaded, in milliseconds (default: never). */
  defaultIdleTtlMs: Schema.optional(PositiveInt),
  /** Time a catalogued model stays loaded before it may be evicted to make room (default 10 000 ms). */
  defaultMinResidencyMs: Schema.optionalWith(NonNegativeInt, { default: () => 10_000 }),
  /** Whether a load every caller has left is cancelled and its engine stopped (default `true`). */
  cancelAbandonedLoads: Schema.optionalWith(Schema.Boolean, { default: () => true })
}
