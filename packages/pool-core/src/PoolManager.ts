/**
 * The `PoolManager` service: the engine lifecycle as one Effect service.
 *
 * The same tag is implemented in-process (`EmbeddedPoolManager`) and over RPC (`PoolClient` in
 * `@llama-orch/pool-client`); callers depend only on this tag, so choosing one is choosing a Layer.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Lease } from "./Lease.js"
import type { ModelStatus } from "./ModelCatalog.js"
import type {
  EngineNotAllowed,
  InsufficientMemory,
  InvalidSpec,
  ModelLoadFailed,
  ModelNotFound,
  PoolAlreadyExists,
  PoolDraining,
  PoolNotFound,
  PoolUnready,
  PreloadFailed,
  ReloadFailed,
  SlotsExhausted,
  TransportError
} from "./PoolErrors.js"
import type { PoolEvent } from "./PoolEvent.js"
import type { PoolId } from "./PoolId.js"
import { ModelRef, type PoolSpec } from "./PoolSpec.js"
import { Handoff, type PoolStatus } from "./PoolStatus.js"

/**
 * How a drain ended: whether the engine had to be stopped with leases still active.
 *
 * @category models
 * @since 0.1.0
 */
export class DrainOutcome extends Schema.Class<DrainOutcome>("DrainOutcome")({
  forceStopped: Schema.Boolean,
  durationMs: Schema.Number,
  leasesAtDeadline: Schema.Int
}) {}

/**
 * Options of `drain`: how long active leases may take before the engine is stopped anyway.
 *
 * @category models
 * @since 0.1.0
 */
export class DrainOptions extends Schema.Class<DrainOptions>("DrainOptions")({
  deadlineMs: Schema.Int.pipe(Schema.nonNegative())
}) {}

/**
 * How to reload: `surge` starts the new engine beside the old one and switches atomically;
 * `replace` (default) drains the old engine first, for when two do not fit in VRAM.
 *
 * @category schemas
 * @since 0.1.0
 */
export const ReloadStrategy = Schema.Literal("replace", "surge")

/**
 * A value of the `ReloadStrategy` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type ReloadStrategy = typeof ReloadStrategy.Type

/**
 * Options of `reload`. Without `model` the pool restarts on its current model.
 *
 * @category models
 * @since 0.1.0
 */
export class ReloadOptions extends Schema.Class<ReloadOptions>("ReloadOptions")({
  model: Schema.optional(ModelRef),
  strategy: Schema.optional(ReloadStrategy),
  deadlineMs: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
}) {}

/**
 * A successful reload: the pool serves `toModel` through `handoff`.
 *
 * @category models
 * @since 0.1.0
 */
export class ReloadOutcome extends Schema.Class<ReloadOutcome>("ReloadOutcome")({
  poolId: Schema.String,
  strategy: ReloadStrategy,
  fromModel: Schema.String,
  toModel: Schema.String,
  durationMs: Schema.Number,
  handoff: Handoff
}) {}

/**
 * The manager's own health: its version, uptime and how many pools it has and how many are Ready.
 *
 * @category models
 * @since 0.1.0
 */
export class ManagerHealth extends Schema.Class<ManagerHealth>("ManagerHealth")({
  version: Schema.String,
  uptimeMs: Schema.Number,
  pools: Schema.Int,
  ready: Schema.Int
}) {}

/**
 * Options of `load`: `keep` lists the models the caller still has queued work for, which the load
 * must not evict to make room.
 *
 * @category models
 * @since 0.1.0
 */
export class LoadOptions extends Schema.Class<LoadOptions>("LoadOptions")({
  keep: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
}) {}

/**
 * The operations of a pool manager. Every call may also fail with a `TransportError` when the
 * manager is remote; the embedded implementation never raises one.
 *
 * @category models
 * @since 0.1.0
 */
export interface PoolManagerService {
  /** Registers a pool (and preloads it in the background when `spec.preload`). */
  readonly register: (
    spec: PoolSpec
  ) => Effect.Effect<PoolStatus, PoolAlreadyExists | EngineNotAllowed | InvalidSpec | TransportError>
  /** Drains and stops the pool's engine, then forgets the pool. */
  readonly remove: (poolId: PoolId) => Effect.Effect<void, PoolNotFound | TransportError>
  /** Every pool's status, ordered by pool id. */
  readonly list: Effect.Effect<ReadonlyArray<PoolStatus>, TransportError>
  /** One pool's status. */
  readonly status: (poolId: PoolId) => Effect.Effect<PoolStatus, PoolNotFound | TransportError>
  /** Starts the engine if needed and resolves once it is Ready. */
  readonly preload: (poolId: PoolId) => Effect.Effect<Handoff, PoolNotFound | PreloadFailed | TransportError>
  /** Stops granting leases, waits for active ones up to the deadline, then stops the engine. */
  readonly drain: (
    poolId: PoolId,
    options: DrainOptions
  ) => Effect.Effect<DrainOutcome, PoolNotFound | TransportError>
  /** Moves the pool to another model (or restarts it), rolling back on failure. */
  readonly reload: (
    poolId: PoolId,
    options: ReloadOptions
  ) => Effect.Effect<ReloadOutcome, PoolNotFound | ReloadFailed | TransportError>
  /** Takes one slot; it is returned when the surrounding scope closes. */
  readonly lease: (
    poolId: PoolId
  ) => Effect.Effect<
    Lease,
    PoolNotFound | PoolUnready | PoolDraining | SlotsExhausted | TransportError,
    Scope.Scope
  >
  /** A `Snapshot` of every pool, then a `StatusChanged` for every change. */
  readonly events: Stream.Stream<PoolEvent, TransportError>
  /**
   * `events` handed to a callback instead of pulled from a stream: `onEvent` gets the `Snapshot`,
   * then every change in order — in-process, synchronously in the step that makes the change, so
   * it must be quick and must not throw (a throw ends the watch with a defect). Succeeds when the
   * manager shuts down; fails as `events` does. For readers of every lease, where a stream costs
   * a pull per event.
   */
  readonly watch: (onEvent: (event: PoolEvent) => void) => Effect.Effect<void, TransportError>
  /** The manager's own health. */
  readonly health: Effect.Effect<ManagerHealth, TransportError>
  /** Every catalogued model with its state, and the models of fixed pools (as `loaded`), ordered by id. */
  readonly models: Effect.Effect<ReadonlyArray<ModelStatus>, TransportError>
  /**
   * Makes a model (by id or alias) servable and answers with the status of a Ready pool serving it:
   * at once when there is one; else device memory is reserved (evicting idle pools, least recently
   * used first — never one with a lease, one younger than its minimum residency, a pinned one or
   * one whose model is in `options.keep`), a pool is registered for the model and started. Callers
   * asking for one model at once share one load; when every caller of a load has gone away it is
   * cancelled (unless the manager keeps abandoned loads): engine stopped, memory freed, pool removed.
   */
  readonly load: (
    modelId: string,
    options?: LoadOptions
  ) => Effect.Effect<PoolStatus, ModelNotFound | ModelLoadFailed | InsufficientMemory | TransportError>
  /** Drains and removes the pool(s) serving a model, freeing its memory. */
  readonly unload: (modelId: string) => Effect.Effect<void, ModelNotFound | TransportError>
}

/**
 * The pool manager service tag.
 *
 * @example
 * ```ts
 * import { NodeContext, NodeHttpClient, NodeRuntime } from "@effect/platform-node"
 * import { EmbeddedPoolManager, EngineProfile, PoolManager } from "@llama-orch/pool-core"
 * import { Console, Effect, Layer } from "effect"
 *
 * // written against the tag: runs unchanged on the embedded, the RPC or the in-memory layer
 * const report = Effect.gen(function*() {
 *   const pools = yield* PoolManager
 *   for (const status of yield* pools.list) yield* Console.log(`${status.poolId}: ${status.state}`)
 * })
 *
 * const llamaServer = new EngineProfile({
 *   name: "llamacpp",
 *   protocol: "llamacpp",
 *   command: "/usr/local/bin/llama-server",
 *   args: ["-m", "{model}", "--host", "{host}", "--port", "{port}", "-np", "{slots}"]
 * })
 *
 * report.pipe(
 *   Effect.provide(EmbeddedPoolManager.layer({ profiles: [llamaServer], stateDir: "./.state/pools" })),
 *   Effect.provide(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)),
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class PoolManager extends Context.Tag("@llama-orch/pool-core/PoolManager")<
  PoolManager,
  PoolManagerService
>() {}

/**
 * `watch` for a manager that has only its `events` stream (a remote one, a test double): runs the
 * stream, handing each event to `onEvent`.
 *
 * @category utils
 * @since 0.1.0
 */
export const watchEvents = <E>(
  events: Stream.Stream<PoolEvent, E>
) =>
(onEvent: (event: PoolEvent) => void): Effect.Effect<void, E> =>
  Stream.runForEach(events, (event) => Effect.sync(() => onEvent(event)))
