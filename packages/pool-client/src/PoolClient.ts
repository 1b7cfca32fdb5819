/**
 * `PoolManager` over RPC: talk to a remote `pool-managerd` as if the pools were in-process.
 *
 * `PoolClient.layer({ url })` is a drop-in replacement for the embedded layer. It needs an
 * `HttpClient` (HTTP+NDJSON, the default) or a `Socket.WebSocketConstructor` (WebSocket); on Node
 * provide `NodeHttpClient.layerUndici` / `FetchHttpClient.layer`, or
 * `NodeSocket.layerWebSocketConstructor`.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Socket from "@effect/platform/Socket"
import * as RpcClient from "@effect/rpc/RpcClient"
import type * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import {
  defaultKeepaliveMs,
  Keepalive,
  PoolAuth,
  PoolManager,
  PoolManagerUnavailable,
  PoolRpcs,
  type Unauthorized,
  watchEvents
} from "@llama-orch/pool-core"
import type { PoolEvent, PoolManagerService } from "@llama-orch/pool-core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as LeaseSession from "./internal/leaseSession.js"
import { backoff, isTransient, mapCause, remote } from "./internal/transport.js"

/**
 * How to reach a pool-managerd and how patient to be with it.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The daemon's URL, e.g. `http://127.0.0.1:9200`; `/rpc` is used when it has no path. */
  readonly url: string
  /** Bearer token the daemon was configured with. */
  readonly token?: Redacted.Redacted<string> | undefined
  /** `http` (HTTP POST + NDJSON, default) or `websocket` (one socket for every call). */
  readonly protocol?: "http" | "websocket" | undefined
  readonly timeouts?: {
    /** Register, remove, list, status, health, models and a lease grant (default 30 s). */
    readonly call?: Duration.DurationInput | undefined
    /** Preload, drain, reload, load and unload, which wait for engines (default 15 min). */
    readonly lifecycle?: Duration.DurationInput | undefined
    /** Silence after which a `Watch` connection is taken for dead (default 3 keepalives). */
    readonly idle?: Duration.DurationInput | undefined
  } | undefined
  /** How often the daemon sends keepalives on `Watch` and `Lease` streams (default 5 s). */
  readonly keepalive?: Duration.DurationInput | undefined
  /** Retries of idempotent calls (list, status, health) on `PoolManagerUnavailable`. */
  readonly retry?: {
    /** Extra attempts (default 3). */
    readonly times?: number | undefined
    /** First delay (default 100 ms), doubled each time with ±20% jitter. */
    readonly base?: Duration.DurationInput | undefined
    /** Longest delay (default 2 s). */
    readonly cap?: Duration.DurationInput | undefined
  } | undefined
  /**
   * Backoff between `events` reconnections (default 250 ms doubling up to 10 s, forever); `false`:
   * `events` and `watch` fail when the connection is lost, for a caller that follows the daemon
   * itself (`MultiPoolManager` marks the node unreachable then).
   */
  readonly reconnect?:
    | {
      readonly base?: Duration.DurationInput | undefined
      readonly cap?: Duration.DurationInput | undefined
    }
    | false
    | undefined
}

/**
 * The RPC endpoint of a daemon URL (`/rpc` when the URL has no path), for HTTP or WebSocket.
 *
 * @category utils
 * @since 0.1.0
 */
export const endpoint = (url: string, protocol: "http" | "websocket"): string => {
  const parsed = new URL(url)
  if (parsed.pathname === "/" || parsed.pathname === "") parsed.pathname = "/rpc"
  if (protocol === "websocket") parsed.protocol = parsed.protocol === "https:" ? "wss:" : "ws:"
  return parsed.toString()
}

const isPoolEvent = (frame: Keepalive | PoolEvent): frame is PoolEvent => !(frame instanceof Keepalive)

/**
 * Builds a `PoolManager` from an `RpcClient` protocol and the auth client middleware in context.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: Options
): Effect.Effect<
  PoolManagerService,
  never,
  RpcClient.Protocol | RpcMiddleware.ForClient<PoolAuth.PoolAuthMiddleware> | Scope.Scope
> =>
  Effect.gen(function*() {
    const client = yield* RpcClient.make(PoolRpcs)
    const url = options.url
    const callTimeout = Duration.decode(options.timeouts?.call ?? "30 seconds")
    const lifecycleTimeout = Duration.decode(options.timeouts?.lifecycle ?? "15 minutes")
    const keepalive = Duration.decode(options.keepalive ?? Duration.millis(defaultKeepaliveMs))
    const keepaliveMs = Math.max(100, Math.round(Duration.toMillis(keepalive)))
    const idle = Duration.decode(options.timeouts?.idle ?? Duration.times(keepalive, 3))
    const call = remote(url, callTimeout)
    const lifecycle = remote(url, lifecycleTimeout)
    const retrySchedule = backoff(
      Duration.decode(options.retry?.base ?? "100 millis"),
      Duration.decode(options.retry?.cap ?? "2 seconds")
    ).pipe(Schedule.intersect(Schedule.recurs(options.retry?.times ?? 3)))
    const idempotent = <A, E>(effect: Effect.Effect<A, E | PoolManagerUnavailable>) =>
      Effect.retry(effect, { schedule: retrySchedule, while: isTransient })
    const reconnect = options.reconnect === false ? undefined : options.reconnect
    const reconnectSchedule = backoff(
      Duration.decode(reconnect?.base ?? "250 millis"),
      Duration.decode(reconnect?.cap ?? "10 seconds")
    )

    const watchOnce: Stream.Stream<PoolEvent, PoolManagerUnavailable | Unauthorized> = client
      .Watch({ keepaliveMs })
      .pipe(
        Stream.concat(Stream.fail(new PoolManagerUnavailable({ url, reason: "the event stream ended" }))),
        Stream.catchAllCause((cause) => Stream.fromEffect(mapCause(url, cause))),
        Stream.timeoutFail(
          () => new PoolManagerUnavailable({ url, reason: `no event or keepalive within ${Duration.format(idle)}` }),
          idle
        ),
        Stream.filter(isPoolEvent)
      )

    // every lease of this client shares one LeaseSession stream: a lease is one request
    const lease = yield* LeaseSession.make({ url, client, keepaliveMs, timeout: callTimeout })

    const events = options.reconnect === false ? watchOnce : watchOnce.pipe(
      Stream.retry(Schedule.whileInput(reconnectSchedule, (error: unknown) => isTransient(error)))
    )

    return PoolManager.of({
      register: (spec) => call(client.Register(spec)),
      remove: (poolId) => call(client.Remove({ poolId })),
      list: idempotent(call(client.List())),
      status: (poolId) => idempotent(call(client.Status({ poolId }))),
      preload: (poolId) => lifecycle(client.Preload({ poolId })),
      drain: (poolId, drainOptions) => lifecycle(client.Drain({ poolId, options: drainOptions })),
      reload: (poolId, reloadOptions) => lifecycle(client.Reload({ poolId, options: reloadOptions })),
      health: idempotent(call(client.Health())),
      models: idempotent(call(client.Models())),
      load: (modelId, loadOptions) => lifecycle(client.Load({ modelId, options: loadOptions })),
      unload: (modelId) => lifecycle(client.Unload({ modelId })),
      lease,
      events,
      watch: watchEvents(events)
    })
  })

const protocolHttp = (url: string, token: Redacted.Redacted<string> | undefined) =>
  RpcClient.layerProtocolHttp({ url: endpoint(url, "http"), transformClient: PoolAuth.httpClientAuth(token) }).pipe(
    Layer.provide(RpcSerialization.layerNdjson)
  )

const protocolWebSocket = (url: string) =>
  RpcClient.layerProtocolSocket({ retryTransientErrors: false }).pipe(
    Layer.provide([Socket.layerWebSocket(endpoint(url, "websocket")), RpcSerialization.layerNdjson])
  )

/**
 * `PoolManager` talking to the pool-managerd at `options.url`. Provide an `HttpClient` (for the
 * default HTTP+NDJSON protocol) or a `Socket.WebSocketConstructor` (for `protocol: "websocket"`).
 *
 * @category layers
 * @since 0.1.0
 */
export function layer(
  options: Options & { readonly protocol?: "http" | undefined }
): Layer.Layer<PoolManager, never, HttpClient.HttpClient>
export function layer(
  options: Options & { readonly protocol: "websocket" }
): Layer.Layer<PoolManager, never, Socket.WebSocketConstructor>
export function layer(
  options: Options
): Layer.Layer<PoolManager, never, HttpClient.HttpClient | Socket.WebSocketConstructor> {
  const protocol = options.protocol === "websocket"
    ? protocolWebSocket(options.url)
    : protocolHttp(options.url, options.token)
  return Layer.scoped(PoolManager, make(options)).pipe(
    Layer.provide([protocol, PoolAuth.layerClient(options.token)])
  )
}
