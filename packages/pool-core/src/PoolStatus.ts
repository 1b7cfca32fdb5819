/**
 * The observable state of a pool: its lifecycle state, slots, the handoff a router needs and the
 * last error.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { EngineProtocol } from "./EngineProfile.js"
import { PoolId } from "./PoolId.js"

/**
 * The lifecycle states of a pool.
 *
 * - `Registered`: known, no engine running.
 * - `Starting`: engine spawned, waiting for a successful health probe.
 * - `Ready`: serving; leases are granted.
 * - `Draining`: no new leases; waiting for active ones to end before stopping.
 * - `Backoff`: the engine failed; a restart is scheduled (`nextRestartAt`).
 * - `Failed`: too many failures; no restarts until an explicit `preload` or `reload`.
 * - `Stopped`: the engine was stopped on purpose.
 *
 * @category schemas
 * @since 0.1.0
 */
export const PoolState = Schema.Literal("Registered", "Starting", "Ready", "Draining", "Backoff", "Failed", "Stopped")

/**
 * A value of the `PoolState` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type PoolState = typeof PoolState.Type

/**
 * Why the last engine failure happened.
 *
 * @category schemas
 * @since 0.1.0
 */
export const FailureKind = Schema.Literal(
  "SpawnFailed",
  "EngineExited",
  "StartupTimeout",
  "LivenessFailed",
  "ReloadFailed"
)

/**
 * A value of the `FailureKind` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type FailureKind = typeof FailureKind.Type

/**
 * The last error a pool saw, with the tail of the engine's stderr when there is one.
 *
 * @category errors
 * @since 0.1.0
 */
export class LastError extends Schema.Class<LastError>("LastError")({
  kind: FailureKind,
  message: Schema.String,
  exitCode: Schema.optional(Schema.Int),
  stderrTail: Schema.optional(Schema.String),
  at: Schema.DateTimeUtc
}) {}

/**
 * What a router needs to send work to a Ready engine.
 *
 * @category models
 * @since 0.1.0
 */
export class Handoff extends Schema.Class<Handoff>("Handoff")({
  poolId: PoolId,
  replicaId: Schema.String,
  engine: Schema.String,
  protocol: EngineProtocol,
  engineVersion: Schema.String,
  url: Schema.String,
  pid: Schema.Int,
  slotsTotal: Schema.Int,
  ctxMax: Schema.Int,
  deviceMask: Schema.optional(Schema.String),
  model: Schema.String,
  generation: Schema.Int,
  readyAt: Schema.DateTimeUtc
}) {}

/**
 * An engine loading for the pool (from spawn to its first successful health probe): since when,
 * the engine's own last progress line (llama-server's `load_tensors: ...`, vLLM's `Loading
 * safetensors checkpoint shards: 50% ...`), the fraction done when that line gives a percentage,
 * and how long the last load of this model on this engine took (`expectedMs`), from which callers
 * estimate the time left.
 *
 * @category models
 * @since 0.1.0
 */
export class Loading extends Schema.Class<Loading>("Loading")({
  since: Schema.DateTimeUtc,
  elapsedMs: Schema.Int,
  progress: Schema.optional(Schema.String),
  fraction: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
  expectedMs: Schema.optional(Schema.Int)
}) {
  /** The time left by the last load of this model, or by the fraction done; `undefined` when unknown. */
  get remainingMs(): number | undefined {
    if (this.expectedMs !== undefined) return Math.max(0, this.expectedMs - this.elapsedMs)
    if (this.fraction !== undefined && this.fraction > 0.05) {
      return Math.max(0, Math.round(this.elapsedMs / this.fraction - this.elapsedMs))
    }
    return undefined
  }
}

/**
 * Whether a pool's node (its pool manager) answers.
 *
 * @category schemas
 * @since 0.1.0
 */
export const NodeState = Schema.Literal("reachable", "unreachable")

/**
 * A value of the `NodeState` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type NodeState = typeof NodeState.Type

/**
 * A snapshot of one pool. `activeLeases + slotsFree == slotsTotal` always holds.
 *
 * @category models
 * @since 0.1.0
 */
export class PoolStatus extends Schema.Class<PoolStatus>("PoolStatus")({
  poolId: PoolId,
  state: PoolState,
  live: Schema.Boolean,
  ready: Schema.Boolean,
  draining: Schema.Boolean,
  engine: Schema.String,
  protocol: EngineProtocol,
  engineVersion: Schema.optional(Schema.String),
  model: Schema.String,
  /** The public model id the pool serves, when its spec names one (a catalogued model's pool). */
  modelId: Schema.optional(Schema.String),
  ctxMax: Schema.Int,
  deviceMask: Schema.optional(Schema.String),
  slotsTotal: Schema.Int,
  slotsFree: Schema.Int,
  activeLeases: Schema.Int,
  generation: Schema.Int,
  handoff: Schema.optional(Handoff),
  restarts: Schema.Int,
  lastError: Schema.optional(LastError),
  nextRestartAt: Schema.optional(Schema.DateTimeUtc),
  readySince: Schema.optional(Schema.DateTimeUtc),
  /** An engine loading for the pool (state `Starting`, or a reload's new engine), with its progress. */
  loading: Schema.optional(Loading),
  /** The node (pool manager) the pool runs on, over several of them (`MultiPoolManager`). */
  node: Schema.optional(Schema.String),
  /**
   * Whether that node answers. An `unreachable` node's pools keep their last known status and
   * take no work until it answers again.
   */
  nodeState: Schema.optional(NodeState)
}) {}
