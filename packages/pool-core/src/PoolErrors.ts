/**
 * The typed errors of the pool manager. Every one is a `Schema.TaggedError`, so it crosses the RPC
 * boundary unchanged and can be matched with `Effect.catchTag`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { FailureKind } from "./PoolStatus.js"

/**
 * `register` was called with the id of a pool that already exists.
 *
 * @category errors
 * @since 0.1.0
 */
export class PoolAlreadyExists extends Schema.TaggedError<PoolAlreadyExists>()("PoolAlreadyExists", {
  poolId: Schema.String
}) {
  override get message(): string {
    return `pool ${this.poolId} already exists`
  }
}

/**
 * The spec names an engine profile the manager was not configured with.
 *
 * @category errors
 * @since 0.1.0
 */
export class EngineNotAllowed extends Schema.TaggedError<EngineNotAllowed>()("EngineNotAllowed", {
  poolId: Schema.String,
  engine: Schema.String,
  allowed: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `pool ${this.poolId}: engine profile "${this.engine}" is not configured (allowed: ${
      this.allowed.join(", ") || "none"
    })`
  }
}

/**
 * The spec is not valid (bad field, or a value the manager cannot accept).
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidSpec extends Schema.TaggedError<InvalidSpec>()("InvalidSpec", {
  poolId: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `pool ${this.poolId}: invalid spec: ${this.reason}`
  }
}

/**
 * No pool with this id is registered.
 *
 * @category errors
 * @since 0.1.0
 */
export class PoolNotFound extends Schema.TaggedError<PoolNotFound>()("PoolNotFound", {
  poolId: Schema.String
}) {
  override get message(): string {
    return `pool ${this.poolId} not found`
  }
}

/**
 * The engine did not become Ready: it could not be spawned, exited, or did not answer its health
 * probe within the startup timeout. `stderrTail` holds the engine's last stderr lines.
 *
 * @category errors
 * @since 0.1.0
 */
export class PreloadFailed extends Schema.TaggedError<PreloadFailed>()("PreloadFailed", {
  poolId: Schema.String,
  engine: Schema.String,
  kind: FailureKind,
  reason: Schema.String,
  exitCode: Schema.optional(Schema.Int),
  stderrTail: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const code = this.exitCode === undefined ? "" : ` (exit code ${this.exitCode})`
    const tail = this.stderrTail ? `\n--- engine stderr (tail) ---\n${this.stderrTail}` : ""
    return `pool ${this.poolId}: engine ${this.engine} failed to start: ${this.kind}: ${this.reason}${code}${tail}`
  }
}

/**
 * A reload failed. With `rolledBack: true` the pool serves the old model again.
 *
 * @category errors
 * @since 0.1.0
 */
export class ReloadFailed extends Schema.TaggedError<ReloadFailed>()("ReloadFailed", {
  poolId: Schema.String,
  engine: Schema.String,
  rolledBack: Schema.Boolean,
  cause: PreloadFailed
}) {
  override get message(): string {
    return `pool ${this.poolId}: reload failed${this.rolledBack ? " and was rolled back" : ""}: ${this.cause.message}`
  }
}

/**
 * A lease was asked of a pool that is not Ready.
 *
 * @category errors
 * @since 0.1.0
 */
export class PoolUnready extends Schema.TaggedError<PoolUnready>()("PoolUnready", {
  poolId: Schema.String,
  state: Schema.String
}) {
  override get message(): string {
    return `pool ${this.poolId} is not ready (state ${this.state})`
  }
}

/**
 * A lease was asked of a pool that is draining.
 *
 * @category errors
 * @since 0.1.0
 */
export class PoolDraining extends Schema.TaggedError<PoolDraining>()("PoolDraining", {
  poolId: Schema.String
}) {
  override get message(): string {
    return `pool ${this.poolId} is draining`
  }
}

/**
 * Every slot of the pool is leased.
 *
 * @category errors
 * @since 0.1.0
 */
export class SlotsExhausted extends Schema.TaggedError<SlotsExhausted>()("SlotsExhausted", {
  poolId: Schema.String,
  slotsTotal: Schema.Int
}) {
  override get message(): string {
    return `pool ${this.poolId}: all ${this.slotsTotal} slots are leased`
  }
}

/**
 * A remote pool manager could not be reached (or answered with something that is not the
 * protocol). Never raised by the embedded implementation.
 *
 * @category errors
 * @since 0.1.0
 */
export class PoolManagerUnavailable extends Schema.TaggedError<PoolManagerUnavailable>()(
  "PoolManagerUnavailable",
  {
    url: Schema.String,
    reason: Schema.String
  }
) {
  override get message(): string {
    return `pool manager at ${this.url} is unavailable: ${this.reason}`
  }
}

/**
 * The remote pool manager refused the bearer token (missing or wrong). Never raised by the
 * embedded implementation.
 *
 * @category errors
 * @since 0.1.0
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  reason: Schema.String
}) {
  override get message(): string {
    return `unauthorized: ${this.reason}`
  }
}

/**
 * The errors any call may fail with when the manager is remote.
 *
 * @category models
 * @since 0.1.0
 */
export type TransportError = PoolManagerUnavailable | Unauthorized

/**
 * The manager cannot use its state directory: another user owns it, another manager holds its
 * lock, or it cannot be created. Daemons exit with code 2 and this message.
 *
 * @category errors
 * @since 0.1.0
 */
export class StateDirRefused extends Schema.TaggedError<StateDirRefused>()("StateDirRefused", {
  stateDir: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `refusing the state directory ${this.stateDir}: ${this.reason}`
  }
}

/**
 * No catalogued model (nor fixed pool) has this id or alias.
 *
 * @category errors
 * @since 0.1.0
 */
export class ModelNotFound extends Schema.TaggedError<ModelNotFound>()("ModelNotFound", {
  modelId: Schema.String,
  /** The ids the manager can serve, to say what was meant. */
  known: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
}) {
  override get message(): string {
    return `model ${this.modelId} is not in the catalog (known: ${this.known.join(", ") || "none"})`
  }
}

/**
 * A load of a catalogued model did not reach Ready: its engine could not start, exited while
 * loading or timed out. `stderrTail` holds the engine's last stderr lines. Its memory is freed.
 *
 * @category errors
 * @since 0.1.0
 */
export class ModelLoadFailed extends Schema.TaggedError<ModelLoadFailed>()("ModelLoadFailed", {
  modelId: Schema.String,
  reason: Schema.String,
  stderrTail: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const tail = this.stderrTail ? `\n--- engine stderr (tail) ---\n${this.stderrTail}` : ""
    return `model ${this.modelId} failed to load: ${this.reason}${tail}`
  }
}

/**
 * A model does not fit: no device has `neededMb` free, even after evicting every pool that may be
 * evicted. `reason` says what blocked (pools with leases, pools younger than their minimum
 * residency, models the caller keeps, pinned models, or simply a model larger than the device).
 *
 * @category errors
 * @since 0.1.0
 */
export class InsufficientMemory extends Schema.TaggedError<InsufficientMemory>()("InsufficientMemory", {
  modelId: Schema.String,
  neededMb: Schema.Number,
  freeMb: Schema.Number,
  device: Schema.optional(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    const on = this.device === undefined ? "" : ` on device ${this.device}`
    return `model ${this.modelId} needs ${this.neededMb} MiB but ${this.freeMb} MiB are free${on}: ${this.reason}`
  }
}
