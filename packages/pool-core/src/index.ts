/**
 * @llama-orch/pool-core: the engine lifecycle of local LLM inference engines as typed Effect
 * services.
 *
 * @module @llama-orch/pool-core
 * @since 0.1.0
 */

/**
 * The embedded `PoolManager`: `EmbeddedPoolManager.layer(options)` runs engines as child processes
 * (spawn, probes, handoff, leases, drain, reload, supervised restarts, reaping after a crash).
 */
export * as EmbeddedPoolManager from "./EmbeddedPoolManager.js"

/** Engine profiles: how to run one kind of engine (command, argument template, protocol). */
export { EngineProfile, EngineProtocol, templateVariables } from "./EngineProfile.js"

/** The model catalog: models served on demand (`CatalogModel`), their states and `ModelStatus`. */
export { catalogFields, CatalogModel, FootprintSource, ModelId, ModelState, ModelStatus } from "./ModelCatalog.js"

/** Lease: one slot of a Ready pool, held while its scope is open. */
export { Lease } from "./Lease.js"

/** The typed errors of the pool manager. */
export {
  EngineNotAllowed,
  InsufficientMemory,
  InvalidSpec,
  ModelLoadFailed,
  ModelNotFound,
  PoolAlreadyExists,
  PoolDraining,
  PoolManagerUnavailable,
  PoolNotFound,
  PoolUnready,
  PreloadFailed,
  ReloadFailed,
  SlotsExhausted,
  StateDirRefused,
  type TransportError,
  Unauthorized
} from "./PoolErrors.js"

/** Several pool managers (the nodes of a cluster) as one, with node-qualified pool ids. */
export * as MultiPoolManager from "./MultiPoolManager.js"

/** What a daemon changes in its own embedded manager on a config reload: engine profiles, step notes. */
export { PoolConfigurator, type PoolConfiguratorService } from "./PoolConfigurator.js"

/** Pool events: `Snapshot` first, then `StatusChanged`. */
export { PoolEvent, Snapshot, StatusChanged } from "./PoolEvent.js"

/** Pool ids: branded, file-name safe strings. */
export { LocalPoolId, PoolId, PoolIdPattern, QualifiedPoolIdPattern, splitPoolId } from "./PoolId.js"

/** The `PoolManager` service tag, the types of its operations, and `watchEvents` (a `watch` made of `events`). */
export {
  DrainOptions,
  DrainOutcome,
  LoadOptions,
  ManagerHealth,
  PoolManager,
  type PoolManagerService,
  ReloadOptions,
  ReloadOutcome,
  ReloadStrategy,
  watchEvents
} from "./PoolManager.js"

/** Pool specs and the model references and device masks they use. */
export { DeviceMask, ModelRef, PoolSpec } from "./PoolSpec.js"

/** Pool status, states, handoff and last error. */
export { FailureKind, Handoff, LastError, Loading, NodeState, PoolState, PoolStatus } from "./PoolStatus.js"

/** The RPC contract of the pool manager (`PoolRpcs`, served at `/rpc`), its stream frames and lease sessions. */
export {
  defaultKeepaliveMs,
  Keepalive,
  LeaseFrame,
  LeaseSessionClosed,
  LeaseSessionFrame,
  LeaseSessionOpened,
  PoolRpcs,
  WatchFrame
} from "./PoolRpcs.js"

/** Server side of `PoolRpcs`: `layer` (handlers for the `PoolManager` in context) and `layerRoute` (mounted at `/rpc`). */
export * as PoolRpcHandlers from "./PoolRpcHandlers.js"

/** What remote callers of the RPC may register: `RemotePolicy`, `admitRegister`, `RegisterPayload`. */
export * as RemotePolicy from "./RemotePolicy.js"

/** Bearer-token auth of `PoolRpcs`: `PoolAuthMiddleware`, `layerServer(token)` and `layerClient(token)`. */
export * as PoolAuth from "./PoolAuth.js"

/** The HTTP-level guard of the RPC endpoint: token checked before the body is read, body size capped. */
export * as RpcHttpGuard from "./RpcHttpGuard.js"

/** GPUs and their memory: from configuration, else discovered with `nvidia-smi`, else none. */
export * as Devices from "./Devices.js"

/** Device memory reservations: `reserve` (most free memory that fits, or the pin), `release`, `placement`. */
export * as DeviceLedger from "./DeviceLedger.js"

/** Memory footprint estimates from a GGUF file's header: weights, KV cache for ctx × slots, overhead. */
export * as ModelFootprint from "./ModelFootprint.js"

/** Learned footprints per model and engine arguments, kept in the state directory across restarts. */
export * as FootprintStore from "./FootprintStore.js"

/** What an engine really uses of its device's memory: `nvidia-smi` per process group, else the engine's report. */
export * as EngineMemoryProbe from "./EngineMemoryProbe.js"
