/**
 * Pool specifications: what a caller asks a pool manager to run.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { LocalPoolId } from "./PoolId.js"

/**
 * A model reference: a name or a path relative to the manager's model directory. It may not be
 * empty, absolute, contain `..` segments or control characters, so it can never escape the
 * configured directories, nor start with `-`, so it can never reach an engine's argv as a flag.
 *
 * @category schemas
 * @since 0.1.0
 */
export const ModelRef = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(512),
  Schema.filter((s) =>
    /[\u0000-\u001f]/.test(s) || s.startsWith("/") || s.startsWith("-") || s.split(/[\\/]/).includes("..")
      ? "a model ref is a non-empty relative name that does not start with '-' (it would reach the engine as a flag), without '..' segments or control characters"
      : true
  ),
  Schema.annotations({ identifier: "ModelRef" })
)

/**
 * A CUDA device mask such as `0` or `0,1`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const DeviceMask = Schema.String.pipe(
  Schema.pattern(/^\d+(,\d+)*$/, { message: () => "a device mask is a comma-separated list of device numbers" }),
  Schema.annotations({ identifier: "DeviceMask" })
)

const PositiveInt = Schema.Int.pipe(Schema.positive())

/**
 * What to run in a pool: which engine profile, which model, how many slots and how much context.
 *
 * @category models
 * @since 0.1.0
 */
export class PoolSpec extends Schema.Class<PoolSpec>("PoolSpec")({
  /** The pool's id on its own manager: never node-qualified (it names files in the state directory). */
  id: LocalPoolId,
  engine: Schema.NonEmptyTrimmedString,
  model: ModelRef,
  slots: Schema.optionalWith(PositiveInt.pipe(Schema.lessThanOrEqualTo(1024)), { default: () => 1 }),
  ctxMax: Schema.optionalWith(PositiveInt, { default: () => 4096 }),
  deviceMask: Schema.optional(DeviceMask),
  port: Schema.optional(Schema.Int.pipe(Schema.between(1, 65535))),
  env: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  startupTimeoutMs: Schema.optional(PositiveInt),
  preload: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** The public model id the pool serves (a catalogued model's id); absent: `model`. */
  modelId: Schema.optional(Schema.String),
  /** Extra engine arguments after the profile's, with the same placeholders. */
  args: Schema.optional(Schema.Array(Schema.String))
}) {}
