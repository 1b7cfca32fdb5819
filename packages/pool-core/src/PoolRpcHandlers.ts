/**
 * The server side of `PoolRpcs`: handlers that serve any `PoolManager`, and a ready-made route that
 * mounts them on an `HttpLayerRouter` with the options a daemon should use.
 *
 * @since 0.1.0
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as LeaseChanges from "./internal/leaseChanges.js"
import * as LeaseSessions from "./internal/leaseSessions.js"
import * as PoolAuth from "./PoolAuth.js"
import { PoolManager } from "./PoolManager.js"
import { defaultKeepaliveMs, Keepalive, type LeaseFrame, PoolRpcs } from "./PoolRpcs.js"
import * as RemotePolicy from "./RemotePolicy.js"
import * as RpcHttpGuard from "./RpcHttpGuard.js"

const keepalives = (keepaliveMs: number | undefined): Stream.Stream<Keepalive> =>
  Stream.tick(Duration.millis(keepaliveMs ?? defaultKeepaliveMs)).pipe(Stream.drop(1), Stream.as(new Keepalive()))

/**
 * The handlers of every `PoolRpcs` call, served by the `PoolManager` in context (embedded, or even a
 * remote one), with `policy` deciding what a remote caller may register (see `RemotePolicy`). A
 * `Lease` call holds its slot in a scope that lives exactly as long as the response stream, and a
 * slot taken with `AcquireLease` lives at most as long as its `LeaseSession` stream: when the client
 * ends the stream or its connection drops, the handler is interrupted and the slots are released.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerWith = (policy: RemotePolicy.RemotePolicy) =>
  PoolRpcs.toLayer(
    Effect.gen(function*() {
      const manager = yield* PoolManager
      const sessions = yield* LeaseSessions.make
      return PoolRpcs.of({
        Register: (payload) => Effect.flatMap(RemotePolicy.admitRegister(policy, payload), manager.register),
        Remove: ({ poolId }) => Effect.zipRight(RemotePolicy.admitRemove(policy), manager.remove(poolId)),
        List: () => manager.list,
        Status: ({ poolId }) => manager.status(poolId),
        Preload: ({ poolId }) => manager.preload(poolId),
        Drain: ({ options, poolId }) => manager.drain(poolId, options),
        Reload: ({ options, poolId }) => manager.reload(poolId, options),
        Health: () => manager.health,
        Models: () => manager.models,
        Load: ({ modelId, options }) => manager.load(modelId, options),
        Unload: ({ modelId }) => manager.unload(modelId),
        Lease: ({ keepaliveMs, poolId }) =>
          Stream.unwrapScoped(
            Effect.map(
              manager.lease(poolId),
              (lease): Stream.Stream<LeaseFrame> => Stream.concat(Stream.succeed(lease), keepalives(keepaliveMs))
            )
          ),
        LeaseSession: ({ keepaliveMs }) => sessions.open(keepalives(keepaliveMs)),
        AcquireLease: ({ key, poolId, sessionId }) => sessions.acquire(sessionId, key, manager.lease(poolId)),
        ReleaseLease: ({ key, sessionId }) => sessions.release(sessionId, key),
        // a watcher that falls behind gets each pool's latest lease counts, not every step between
        Watch: ({ keepaliveMs }) =>
          Stream.merge(Stream.mapChunks(manager.events, LeaseChanges.collapse), keepalives(keepaliveMs), {
            haltStrategy: "left"
          })
      })
    })
  )

/**
 * The handlers with the default remote policy: no remote `Register` or `Remove`
 * (`RemotePolicy.registrationDisabled`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = layerWith(RemotePolicy.registrationDisabled)

/**
 * Options of `layerRoute`.
 *
 * @category models
 * @since 0.1.0
 */
export interface RouteOptions {
  /** Path of the endpoint (default `/rpc`). */
  readonly path?: `/${string}` | undefined
  /** Bearer token every call must carry; `undefined` allows every call. */
  readonly token: Redacted.Redacted<string> | undefined
  /** What remote callers may register; default `RemotePolicy.registrationDisabled`. */
  readonly remote?: RemotePolicy.RemotePolicy | undefined
  /** Also accept WebSocket upgrades (`GET path`) besides HTTP+NDJSON (`POST path`); default `true`. */
  readonly websocket?: boolean | undefined
  /** Cap on a request body and on one NDJSON frame (default `RpcHttpGuard.defaultMaxBodyBytes`, 1 MiB). */
  readonly maxBodyBytes?: number | undefined
}

/**
 * `PoolRpcs` served on an `HttpLayerRouter` at `/rpc` for the `PoolManager` in context: HTTP POST
 * with NDJSON framing (streams flow incrementally; never plain JSON, which buffers streams), plus
 * WebSocket on the same path, `disableFatalDefects` so one failing call never takes the others on
 * its connection down, and `PoolAuth` with the given token. `RpcHttpGuard` stands in front of both:
 * the token is checked before the body is read or the socket upgraded, and bodies and NDJSON frames
 * are capped at `maxBodyBytes`.
 *
 * Serve it with `HttpLayerRouter.serve(PoolRpcHandlers.layerRoute({ token }))` over an `HttpServer`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerRoute = (
  options: RouteOptions
): Layer.Layer<never, never, HttpLayerRouter.HttpRouter | PoolManager> => {
  const path = options.path ?? "/rpc"
  const guard = { token: options.token, maxBodyBytes: options.maxBodyBytes ?? RpcHttpGuard.defaultMaxBodyBytes }
  const mount = (method: "POST" | "GET", make: typeof RpcServer.makeProtocolWithHttpApp) =>
    Layer.effect(
      RpcServer.Protocol,
      Effect.gen(function*() {
        const router = yield* HttpLayerRouter.HttpRouter
        const { httpApp, protocol } = yield* make
        yield* router.add(method, path, RpcHttpGuard.guard(httpApp, guard))
        return protocol
      })
    )
  const server = (method: "POST" | "GET", make: typeof RpcServer.makeProtocolWithHttpApp) =>
    RpcServer.layer(PoolRpcs, { disableFatalDefects: true }).pipe(Layer.provide(mount(method, make)))
  const http = server("POST", RpcServer.makeProtocolWithHttpApp)
  const routes = options.websocket === false
    ? http
    : Layer.merge(http, server("GET", RpcServer.makeProtocolWithHttpAppWebsocket))
  return routes.pipe(
    Layer.provide([
      layerWith(options.remote ?? RemotePolicy.registrationDisabled),
      PoolAuth.layerServer(options.token),
      RpcSerialization.layerNdjsonWith({ maxBufferSize: guard.maxBodyBytes })
    ])
  )
}
