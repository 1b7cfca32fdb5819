/**
 * The RPC contract of the pool manager: one `RpcGroup` that `pool-managerd` serves and
 * `@llama-orch/pool-client` calls. Payloads, results and errors are the domain Schemas, so typed
 * errors cross the wire unchanged.
 *
 * @since 0.1.0
 */
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as Schema from "effect/Schema"
import { Lease } from "./Lease.js"
import { ModelStatus } from "./ModelCatalog.js"
import { PoolAuthMiddleware } from "./PoolAuth.js"
import {
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
  Unauthorized
} from "./PoolErrors.js"
import { Snapshot, StatusChanged } from "./PoolEvent.js"
import { PoolId } from "./PoolId.js"
import { DrainOptions, DrainOutcome, LoadOptions, ManagerHealth, ReloadOptions, ReloadOutcome } from "./PoolManager.js"
import { Handoff, PoolStatus } from "./PoolStatus.js"
import { RegisterPayload } from "./RemotePolicy.js"

/**
 * A frame of the `Watch` stream that carries no event: the server sends one every `keepaliveMs`
 * so a client can tell a quiet pool from a dead connection. Clients drop it.
 *
 * @category models
 * @since 0.1.0
 */
export class Keepalive extends Schema.TaggedClass<Keepalive>()("Keepalive", {}) {}

/**
 * What the `Watch` stream carries: pool events and keepalives.
 *
 * @category schemas
 * @since 0.1.0
 */
export const WatchFrame = Schema.Union(Snapshot, StatusChanged, Keepalive)

/**
 * A value of the `WatchFrame` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type WatchFrame = typeof WatchFrame.Type

/**
 * What the `Lease` stream carries: the grant first, then keepalives while the slot is held (so idle
 * timeouts of HTTP clients and proxies never cut a long-held lease).
 *
 * @category schemas
 * @since 0.1.0
 */
export const LeaseFrame = Schema.Union(Lease, Keepalive)

/**
 * A value of the `LeaseFrame` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type LeaseFrame = typeof LeaseFrame.Type

/**
 * The first frame of a `LeaseSession` stream: the id that `AcquireLease` and `ReleaseLease` name.
 *
 * @category models
 * @since 0.1.0
 */
export class LeaseSessionOpened extends Schema.TaggedClass<LeaseSessionOpened>()("LeaseSessionOpened", {
  sessionId: Schema.String
}) {}

/**
 * What the `LeaseSession` stream carries: `LeaseSessionOpened` first, then keepalives while it is open.
 *
 * @category schemas
 * @since 0.1.0
 */
export const LeaseSessionFrame = Schema.Union(LeaseSessionOpened, Keepalive)

/**
 * A value of the `LeaseSessionFrame` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type LeaseSessionFrame = typeof LeaseSessionFrame.Type

/**
 * `AcquireLease` named a lease session that is not open on this server: its stream ended (the
 * connection carrying it dropped) or the server restarted. Open a new session and acquire again.
 *
 * @category errors
 * @since 0.1.0
 */
export class LeaseSessionClosed extends Schema.TaggedError<LeaseSessionClosed>()("LeaseSessionClosed", {
  sessionId: Schema.String
}) {
  override get message(): string {
    return `lease session ${this.sessionId} is not open`
  }
}

/**
 * The default keepalive interval of `Watch` and `Lease`.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultKeepaliveMs = 5_000

// A served manager may itself be remote (a proxy), so its transport errors are part of every call.
const transport = [PoolManagerUnavailable, Unauthorized] as const
const byId = { poolId: PoolId }
const keepaliveMs = Schema.optional(Schema.Int.pipe(Schema.between(100, 600_000)))
const sessionKey = {
  sessionId: Schema.String.pipe(Schema.maxLength(64)),
  key: Schema.String.pipe(Schema.length({ min: 1, max: 64 }))
}

/**
 * The RPC group of the pool manager. `Lease` emits the grant and holds the slot until the client ends
 * the stream (or disconnects); `Watch` emits a `Snapshot`, then `StatusChanged` events (to a watcher
 * that falls behind, a pool's lease changes still unsent are folded into its latest status; every
 * other change arrives). Both streams interleave a `Keepalive` every `keepaliveMs` (default 5 s).
 *
 * Leases in a session are the cheap way for a client that takes many: `LeaseSession` opens a stream
 * (its first frame names the session, then keepalives), `AcquireLease` takes a slot held by that
 * session under a key the client chose, `ReleaseLease` gives it back (a release that arrives before
 * its acquire cancels it). Every slot a session holds is released when its stream ends, so a client
 * that disconnects loses nothing; one acquire is one request/response, where `Lease` costs a stream.
 *
 * `Load` waits until the model's pool is Ready; a caller that goes away (interrupts or disconnects)
 * leaves the load, which is cancelled when it was its last caller. Every call goes through `PoolAuth`.
 *
 * @category models
 * @since 0.1.0
 */
export class PoolRpcs extends RpcGroup.make(
  Rpc.make("Register", {
    // a spec with an unknown field, or no spec at all, is answered with a typed InvalidSpec
    payload: RegisterPayload,
    success: PoolStatus,
    error: Schema.Union(PoolAlreadyExists, EngineNotAllowed, InvalidSpec, ...transport)
  }),
  Rpc.make("Remove", { payload: byId, error: Schema.Union(PoolNotFound, ...transport) }),
  Rpc.make("List", { success: Schema.Array(PoolStatus), error: Schema.Union(...transport) }),
  Rpc.make("Status", { payload: byId, success: PoolStatus, error: Schema.Union(PoolNotFound, ...transport) }),
  Rpc.make("Preload", {
    payload: byId,
    success: Handoff,
    error: Schema.Union(PoolNotFound, PreloadFailed, ...transport)
  }),
  Rpc.make("Drain", {
    payload: { poolId: PoolId, options: DrainOptions },
    success: DrainOutcome,
    error: Schema.Union(PoolNotFound, ...transport)
  }),
  Rpc.make("Reload", {
    payload: { poolId: PoolId, options: ReloadOptions },
    success: ReloadOutcome,
    error: Schema.Union(PoolNotFound, ReloadFailed, ...transport)
  }),
  Rpc.make("Health", { success: ManagerHealth, error: Schema.Union(...transport) }),
  Rpc.make("Models", { success: Schema.Array(ModelStatus), error: Schema.Union(...transport) }),
  Rpc.make("Load", {
    payload: { modelId: Schema.String, options: Schema.optional(LoadOptions) },
    success: PoolStatus,
    error: Schema.Union(ModelNotFound, ModelLoadFailed, InsufficientMemory, ...transport)
  }),
  Rpc.make("Unload", {
    payload: { modelId: Schema.String },
    error: Schema.Union(ModelNotFound, ...transport)
  }),
  Rpc.make("Lease", {
    payload: { poolId: PoolId, keepaliveMs },
    success: LeaseFrame,
    error: Schema.Union(PoolNotFound, PoolUnready, PoolDraining, SlotsExhausted, ...transport),
    stream: true
  }),
  Rpc.make("LeaseSession", {
    payload: { keepaliveMs },
    success: LeaseSessionFrame,
    error: Schema.Union(...transport),
    stream: true
  }),
  Rpc.make("AcquireLease", {
    payload: { ...sessionKey, poolId: PoolId },
    success: Lease,
    error: Schema.Union(LeaseSessionClosed, PoolNotFound, PoolUnready, PoolDraining, SlotsExhausted, ...transport)
  }),
  Rpc.make("ReleaseLease", { payload: sessionKey, error: Schema.Union(...transport) }),
  Rpc.make("Watch", {
    payload: { keepaliveMs },
    success: WatchFrame,
    error: Schema.Union(...transport),
    stream: true
  })
).middleware(PoolAuthMiddleware) {}
