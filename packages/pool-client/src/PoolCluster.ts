/**
 * A cluster of pool-managerds as one `PoolManager`: named nodes from configuration, and/or the
 * addresses a DNS name resolves to (a Kubernetes headless Service: one A/AAAA record per node),
 * looked up again every `intervalMs`. Each node is a `PoolClient` that reports a lost connection
 * (`reconnect: false`), combined by pool-core's `MultiPoolManager`: pool ids are `node/pool`, a node
 * that stops answering is `unreachable` until it answers again, a node whose address disappears
 * from DNS leaves, and a new address joins.
 *
 * Discovered nodes are named by their address (`10.0.0.5`; an IPv6 address with `-` for `:`).
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Socket from "@effect/platform/Socket"
import { MultiPoolManager, PoolManager } from "@llama-orch/pool-core"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as NodeDns from "node:dns"
import * as PoolClient from "./PoolClient.js"

/**
 * One node named in the configuration.
 *
 * @category models
 * @since 0.1.0
 */
export interface StaticNode {
  readonly name: string
  readonly url: string
  readonly token?: Redacted.Redacted<string> | undefined
}

/**
 * Nodes found in DNS.
 *
 * @category models
 * @since 0.1.0
 */
export interface Discovery {
  /** The name to resolve (A and AAAA records), e.g. a headless Service `pool-managerd.llama-orch.svc`. */
  readonly dns: string
  /** pool-managerd's port on every address (default 9200). */
  readonly port?: number | undefined
  /** How often the name is resolved again (default 5 000 ms). */
  readonly intervalMs?: number | undefined
  /** The token of the discovered nodes. */
  readonly token?: Redacted.Redacted<string> | undefined
  /** DNS servers to ask (`host` or `host:port`), instead of the system's. */
  readonly servers?: ReadonlyArray<string> | undefined
}

/**
 * The cluster: static nodes, discovery, and how patient to be with nodes.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly nodes?: ReadonlyArray<StaticNode> | undefined
  readonly discovery?: Discovery | undefined
  /** Keepalive of the nodes' event streams (default 1 s: a dead node is noticed within 3 s). */
  readonly keepalive?: Duration.DurationInput | undefined
  /**
   * Passed to `MultiPoolManager.make`; `leaseHoldMs` defaults to `defaultLeaseHoldMs` here (a lease
   * kept for the next task of its pool costs no message to the node).
   */
  readonly multi?: MultiPoolManager.Options | undefined
  /**
   * How the nodes are called (default `"websocket"`: every call of a node multiplexed on one socket,
   * 2–5× faster per `status` or `lease` than a POST per call in `bench/cluster`).
   */
  readonly protocol?: "http" | "websocket" | undefined
}

/**
 * How long a cluster keeps a lease whose task is done for the next task of the same pool (ms).
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultLeaseHoldMs = 1_000

/**
 * What the name resolves to: its IPv4 and IPv6 addresses (none when it does not resolve).
 *
 * @category utils
 * @since 0.1.0
 */
export const resolveAddresses = (
  name: string,
  servers?: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<string>> =>
  Effect.promise(async () => {
    const resolver = new NodeDns.promises.Resolver({ timeout: 2_000, tries: 2 })
    if (servers !== undefined && servers.length > 0) resolver.setServers([...servers])
    const [v4, v6] = await Promise.all([
      resolver.resolve4(name).catch((): Array<string> => []),
      resolver.resolve6(name).catch((): Array<string> => [])
    ])
    return [...v4, ...v6].sort()
  })

/**
 * The node name of an address: the address, with `-` for the `:` of IPv6.
 *
 * @category utils
 * @since 0.1.0
 */
export const nodeName = (address: string): string => address.toLowerCase().replaceAll(":", "-")

const urlOf = (address: string, port: number): string =>
  address.includes(":") ? `http://[${address}]:${port}` : `http://${address}:${port}`

/**
 * Builds the cluster's `PoolManager` and, with `discovery`, follows the DNS name while the scope
 * is open.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: Options
): Effect.Effect<
  MultiPoolManager.MultiPoolManager,
  never,
  HttpClient.HttpClient | Socket.WebSocketConstructor | Scope.Scope
> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<HttpClient.HttpClient | Socket.WebSocketConstructor>()
    const scope = yield* Effect.scope
    const keepalive = options.keepalive ?? "1 second"
    const scopes = new Map<string, Scope.CloseableScope>()
    const nodeLayer = (
      url: string,
      token: Redacted.Redacted<string> | undefined
    ): Layer.Layer<PoolManager, never, HttpClient.HttpClient | Socket.WebSocketConstructor> =>
      options.protocol === "http"
        ? PoolClient.layer({ url, token, reconnect: false, keepalive })
        : PoolClient.layer({ url, token, reconnect: false, keepalive, protocol: "websocket" })

    /** A node's client, in a scope of its own (closed when the node leaves). */
    const client = (name: string, url: string, token: Redacted.Redacted<string> | undefined) =>
      Effect.gen(function*() {
        const nodeScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
        scopes.set(name, nodeScope)
        const built = yield* Layer.buildWithScope(
          nodeLayer(url, token).pipe(Layer.provide(Layer.succeedContext(context))),
          nodeScope
        )
        return { name, manager: Context.get(built, PoolManager) }
      })

    const initial = []
    for (const node of options.nodes ?? []) initial.push(yield* client(node.name, node.url, node.token))
    const discovery = options.discovery
    const port = discovery?.port ?? 9200
    const found = discovery === undefined ? [] : yield* resolveAddresses(discovery.dns, discovery.servers)
    for (const address of found) initial.push(yield* client(nodeName(address), urlOf(address, port), discovery?.token))
    const multi = yield* MultiPoolManager.make(initial, { leaseHoldMs: defaultLeaseHoldMs, ...options.multi })

    if (discovery !== undefined) {
      const fixed = new Set((options.nodes ?? []).map((n) => n.name))
      const discovered = new Set(found.map(nodeName))
      const refresh = Effect.gen(function*() {
        const addresses = yield* resolveAddresses(discovery.dns, discovery.servers)
        const now = new Map(addresses.map((a) => [nodeName(a), a]))
        for (const [name, address] of now) {
          if (discovered.has(name) || fixed.has(name)) continue
          discovered.add(name)
          yield* Effect.logInfo(`Node ${name} appeared in ${discovery.dns}.`)
          yield* multi.add(yield* client(name, urlOf(address, port), discovery.token))
        }
        for (const name of [...discovered]) {
          if (now.has(name)) continue
          discovered.delete(name)
          yield* Effect.logInfo(`Node ${name} left ${discovery.dns}.`)
          yield* multi.remove(name)
          const nodeScope = scopes.get(name)
          scopes.delete(name)
          if (nodeScope !== undefined) yield* Scope.close(nodeScope, Exit.void)
        }
      })
      yield* refresh.pipe(
        Effect.repeat(Schedule.spaced(Duration.millis(discovery.intervalMs ?? 5_000))),
        Effect.forkIn(scope)
      )
    }
    return multi
  })

/**
 * The cluster as the `PoolManager` layer (needs an `HttpClient` and a `Socket.WebSocketConstructor`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<PoolManager, never, HttpClient.HttpClient | Socket.WebSocketConstructor> =>
  Layer.scoped(PoolManager, Effect.map(make(options), (multi) => multi.manager))
