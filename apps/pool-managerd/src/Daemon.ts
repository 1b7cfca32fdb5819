/**
 * The `pool-managerd` daemon as a Layer: the embedded `PoolManager` built from the configuration,
 * served over HTTP with the `PoolRpcs` RPC endpoint (`/rpc`), `GET /health` and `GET /metrics`.
 *
 * Start-up: the manager reaps engines a crashed earlier run left behind, registers the configured
 * pools and preloads them in the background; the server then listens and prints its listening
 * line. Shutdown (closing the layer, e.g. SIGTERM): first every pool drains while the RPC still
 * serves — new leases are refused, granted leases run on until they end or `shutdown_deadline_ms`
 * passes — and its engine stops; then the routes stop, open RPC streams end, the server closes and
 * the manager closes.
 *
 * @since 0.1.0
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import type * as Path from "@effect/platform/Path"
import { BindSafety, RequestGuard, Serve } from "@llama-orch/daemon-kit"
import {
  DrainOptions,
  EmbeddedPoolManager,
  PoolManager,
  type PoolManagerService,
  PoolRpcHandlers,
  type StateDirRefused
} from "@llama-orch/pool-core"
import { ConfigReload, HealthRoute, PoolMetrics } from "@llama-orch/pool-daemon"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { reloadFile, type Settings } from "./Config.js"
import * as ReloadRoute from "./ReloadRoute.js"

/**
 * How to configure a token, for the bind-safety message.
 *
 * @category utils
 * @since 0.1.0
 */
export const tokenHint =
  "token or token_file in the config file, POOL_MANAGERD_TOKEN / POOL_MANAGERD_TOKEN_FILE, or the pool-managerd.token credential"

/** The media type of the RPC's NDJSON request bodies, the only bodies pool-managerd reads. */
const rpcContentType = "application/ndjson"

/**
 * The first step of shutting down: every pool is drained at once — new leases are refused with
 * `PoolDraining`, leases already granted (remote generations in flight) run on until they end or
 * `deadlineMs` passes — and its engine is then stopped. The RPC keeps serving meanwhile, so lease
 * streams stay open and `Watch` followers see every pool go Draining, then Stopped.
 *
 * @category utils
 * @since 0.1.0
 */
export const drainAll = (pools: PoolManagerService, deadlineMs: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    const statuses = yield* Effect.orElseSucceed(pools.list, () => [])
    const leased = statuses.reduce((n, status) => n + status.activeLeases, 0)
    yield* Effect.logInfo(
      `pool-managerd is shutting down: draining ${statuses.length} pool(s) with ${leased} lease(s) for up to ${deadlineMs} ms.`
    )
    const options = new DrainOptions({ deadlineMs })
    yield* Effect.forEach(statuses, (status) => Effect.ignore(pools.drain(status.poolId, options)), {
      concurrency: "unbounded",
      discard: true
    })
  })

/**
 * The daemon: checks bind safety, then builds the manager and serves it. Run it with
 * `Layer.launch`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  settings: Settings
): Layer.Layer<
  never,
  BindSafety.BindRefused | RequestGuard.WildcardOriginRefused | StateDirRefused | HttpServerError.ServeError,
  CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path
> => {
  const manager = EmbeddedPoolManager.layer(settings.manager).pipe(Layer.provide(NodeHttpClient.layerUndici))
  const guard = RequestGuard.make({
    bindHost: settings.host,
    allowedHosts: settings.allowedHosts,
    allowedOrigins: settings.allowedOrigins,
    bodyTypes: [rpcContentType]
  })
  const routes = Layer.mergeAll(
    PoolRpcHandlers.layerRoute({
      token: Option.getOrUndefined(settings.token),
      remote: settings.remote,
      maxBodyBytes: settings.maxBodyBytes
    }),
    ReloadRoute.layer({ token: Option.getOrUndefined(settings.token), maxBodyBytes: settings.maxBodyBytes }),
    HealthRoute.layer,
    PoolMetrics.layer,
    RequestGuard.middleware(guard)
  )
  const reloader = ConfigReload.layer({
    source: Option.getOrElse(settings.file, () => "no file"),
    load: () => reloadFile(settings.file),
    initial: settings.reload,
    deadlineMs: settings.manager.shutdownDeadlineMs,
    metricPrefix: "pool_managerd",
    onHangup: true
  })
  const checked = Layer.effectDiscard(Effect.zipRight(
    BindSafety.ensureBindAllowed(settings.host, settings.token, tokenHint),
    RequestGuard.ensureOriginsAllowed(settings.allowedOrigins, settings.token, tokenHint)
  ))
  const started = Layer.effectDiscard(
    Effect.logInfo("pool-managerd is starting.").pipe(
      Effect.annotateLogs({
        host: settings.host,
        port: settings.port,
        state_dir: settings.manager.stateDir,
        pools: settings.manager.pools.length,
        engines: settings.manager.profiles.map((p) => p.name).join(","),
        auth: Option.isSome(settings.token),
        remote_register: settings.remote.allowRegister
      })
    )
  )
  const unconfined = Layer.effectDiscard(Effect.when(
    Effect.logWarning(
      "allow_remote_register is on without model_dir: remote callers may name any model ref under the working directory."
    ),
    () => settings.remote.allowRegister && settings.manager.modelDir === undefined
  ))
  // released first, while the routes still serve: leased work runs on until the deadline
  const drainFirst = Layer.scopedDiscard(
    Effect.flatMap(
      PoolManager,
      (pools) => Effect.addFinalizer(() => drainAll(pools, settings.manager.shutdownDeadlineMs))
    )
  )
  const stopped = Layer.scopedDiscard(
    Effect.addFinalizer(() => Effect.logInfo("pool-managerd stopped; every engine is stopped."))
  )
  return Serve.layer(routes, { host: settings.host, port: settings.port }).pipe(
    Layer.provide(reloader),
    Layer.flatMap(() => drainFirst),
    Layer.provide(manager),
    Layer.provide(stopped),
    Layer.provide(started),
    Layer.provide(unconfined),
    Layer.provide(checked)
  )
}
