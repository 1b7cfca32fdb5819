/**
 * Several pool managers as one `PoolManager`: the nodes of a cluster (a pool-managerd next to the
 * GPUs of each), and optionally the embedded manager, behind the one tag the orchestrator uses.
 *
 * - Pool ids are qualified by node: `node/pool` (e.g. `gpu-a/qwen`). An unqualified id still works
 *   when exactly one node has a pool of that name.
 * - Every pool's status carries `node` and `nodeState`. A node whose event stream fails is
 *   `unreachable` at once: its pools keep their last known status with `ready: false`, leases on
 *   them fail with `PoolManagerUnavailable`, and they come back by themselves when the node answers
 *   again (its stream is followed again with backoff).
 * - `list` and `status` answer from the statuses the nodes' event streams keep current: no round
 *   trip. `events`/`watch` give one `Snapshot` across all nodes, then every change.
 * - `models` lists every reachable node's models (with `node`); `load` goes to a node that serves
 *   the model already (loaded, then loading), else to the node running the fewest models whose
 *   catalog has it; `unload` to every node that lists it.
 * - Nodes can be added and removed while it runs (static configuration, DNS discovery).
 * - With `leaseHoldMs`, a lease whose holder is done is kept that long for the next lease of the
 *   same pool, which then costs no call to the node: the slot stays taken at the node meanwhile, so
 *   the node's slot accounting stays exact. A kept lease is given back at once when its pool stops
 *   being Ready, drains, reloads, or its node is lost or leaves.
 *
 * Each node's manager must report a failed connection by failing its `watch` (a `PoolClient`
 * made with `reconnect: false`): one that reconnects by itself never looks unreachable.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Changes } from "./internal/changes.js"
import { feedOf } from "./internal/feed.js"
import * as HeldLeases from "./internal/heldLeases.js"
import { Lease } from "./Lease.js"
import { ModelStatus } from "./ModelCatalog.js"
import { InvalidSpec, ModelNotFound, PoolManagerUnavailable, PoolNotFound } from "./PoolErrors.js"
import { type PoolEvent, StatusChanged } from "./PoolEvent.js"
import { PoolId, splitPoolId } from "./PoolId.js"
import { ManagerHealth, PoolManager, type PoolManagerService } from "./PoolManager.js"
import { Handoff, type NodeState, PoolStatus } from "./PoolStatus.js"

/**
 * One node: its name (the pool id prefix; a pool id segment) and its manager.
 *
 * @category models
 * @since 0.1.0
 */
export interface Node {
  readonly name: string
  readonly manager: PoolManagerService
}

/**
 * How patient to be with nodes.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** How long `make` waits for the first nodes' snapshots before it answers (default 5 000 ms). */
  readonly connectTimeoutMs?: number | undefined
  /** First wait before following a failed node again (default 250 ms), doubled up to `reconnectCapMs`. */
  readonly reconnectBaseMs?: number | undefined
  /** Longest wait between attempts (default 5 000 ms). */
  readonly reconnectCapMs?: number | undefined
  /**
   * How long a lease whose holder is done is kept for the next lease of its pool (default 0: given
   * back at once). Worth it for remote nodes, where taking and giving back a lease are messages.
   */
  readonly leaseHoldMs?: number | undefined
  /** Version reported by `health` (default `0.0.0`). */
  readonly version?: string | undefined
}

/**
 * A node as the combined manager sees it: `connecting` until its first snapshot or failure.
 *
 * @category models
 * @since 0.1.0
 */
export interface NodeInfo {
  readonly name: string
  readonly state: "connecting" | NodeState
  readonly pools: number
}

/**
 * The combined manager and its membership.
 *
 * @category models
 * @since 0.1.0
 */
export interface MultiPoolManager {
  /** The nodes as one `PoolManager`. */
  readonly manager: PoolManagerService
  /** Adds a node (its pools join with its first snapshot); a name already present is replaced. */
  readonly add: (node: Node) => Effect.Effect<void>
  /** Removes a node: its pools are published as `removed` and leave. */
  readonly remove: (name: string) => Effect.Effect<void>
  /** The nodes and their states. */
  readonly nodes: Effect.Effect<ReadonlyArray<NodeInfo>>
}

interface Entry {
  readonly name: string
  readonly manager: PoolManagerService
  state: "connecting" | NodeState
  /** Counts the node's losses: a lease taken before the last one is gone at the node. */
  epoch: number
  /** Last known status of each pool, by the node's own pool id. */
  readonly pools: Map<string, PoolStatus>
  readonly connected: Deferred.Deferred<void>
  fiber: Fiber.RuntimeFiber<never> | undefined
}

/**
 * Builds the combined manager over `nodes`, waiting (at most `connectTimeoutMs`) for their first
 * snapshots. Everything it starts stops with the scope.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  nodes: Iterable<Node>,
  options: Options = {}
): Effect.Effect<MultiPoolManager, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const base = options.reconnectBaseMs ?? 250
    const cap = options.reconnectCapMs ?? 5_000
    const entries = new Map<string, Entry>()
    const changes = new Changes()
    yield* Effect.addFinalizer(() => Effect.sync(() => changes.end()))
    const startedAt = yield* Clock.currentTimeMillis

    const qualify = (entry: Entry, status: PoolStatus): PoolStatus => {
      const poolId = PoolId.make(`${entry.name}/${status.poolId}`)
      const unreachable = entry.state === "unreachable"
      return new PoolStatus({
        ...status,
        poolId,
        ready: unreachable ? false : status.ready,
        handoff: status.handoff === undefined ? undefined : new Handoff({ ...status.handoff, poolId }, true),
        node: entry.name,
        nodeState: unreachable ? "unreachable" : "reachable"
      }, true)
    }
    const publish = (entry: Entry, status: PoolStatus, reason: string) => {
      held.recheck()
      changes.publish(new StatusChanged({ status: qualify(entry, status), reason }, true))
    }

    /** A kept lease serves again only on the same connection to its node, while its pool still takes work. */
    const held = yield* HeldLeases.make<{ readonly entry: Entry; readonly epoch: number; readonly local: string }>(
      options.leaseHoldMs ?? 0,
      ({ lease, tag: { entry, epoch, local } }) => {
        const status = entry.pools.get(local)
        return entries.get(entry.name) === entry && entry.state === "reachable" && entry.epoch === epoch &&
          status !== undefined && status.state === "Ready" && !status.draining && status.generation === lease.generation
      }
    )

    const onEvent = (entry: Entry) => (event: PoolEvent): void => {
      if (event._tag === "StatusChanged") {
        entry.pools.set(event.status.poolId, event.status)
        return publish(entry, event.status, event.reason)
      }
      const reason = entry.state === "reachable" ? "snapshot" : "node-reachable"
      entry.state = "reachable"
      const seen = new Set<string>()
      for (const status of event.pools) {
        seen.add(status.poolId)
        entry.pools.set(status.poolId, status)
        publish(entry, status, reason)
      }
      for (const [id, status] of entry.pools) {
        if (seen.has(id)) continue
        entry.pools.delete(id)
        publish(entry, status, "removed")
      }
      Deferred.unsafeDone(entry.connected, Exit.void)
    }

    const markUnreachable = (entry: Entry) => {
      Deferred.unsafeDone(entry.connected, Exit.void)
      if (entry.state === "unreachable") return
      entry.state = "unreachable"
      entry.epoch++
      for (const status of entry.pools.values()) publish(entry, status, "node-unreachable")
    }

    /** Follows a node's events for as long as the node is a member, again and again. */
    const follow = (entry: Entry): Effect.Effect<never> =>
      Effect.gen(function*() {
        let wait = base
        while (true) {
          yield* Effect.exit(entry.manager.watch(onEvent(entry)))
          // a node that had answered starts its backoff again
          if (entry.state === "reachable") wait = base
          markUnreachable(entry)
          yield* Effect.sleep(wait)
          wait = Math.min(cap, wait * 2)
        }
      })

    const remove = (name: string) =>
      Effect.gen(function*() {
        const entry = entries.get(name)
        if (entry === undefined) return
        entries.delete(name)
        if (entry.fiber !== undefined) yield* Fiber.interrupt(entry.fiber)
        for (const status of entry.pools.values()) publish(entry, status, "removed")
      })

    const add = (node: Node) =>
      Effect.gen(function*() {
        yield* remove(node.name)
        const entry: Entry = {
          name: node.name,
          manager: node.manager,
          state: "connecting",
          epoch: 0,
          pools: new Map(),
          connected: yield* Deferred.make<void>(),
          fiber: undefined
        }
        entries.set(node.name, entry)
        entry.fiber = yield* Effect.forkIn(follow(entry), scope)
        return entry
      })

    const initial: Array<Entry> = []
    for (const node of nodes) initial.push(yield* add(node))
    yield* Effect.forEach(initial, (entry) => Deferred.await(entry.connected), { concurrency: "unbounded" }).pipe(
      Effect.timeoutOption(options.connectTimeoutMs ?? 5_000)
    )

    const allStatuses = (): Array<PoolStatus> => {
      const out: Array<PoolStatus> = []
      for (const entry of entries.values()) for (const status of entry.pools.values()) out.push(qualify(entry, status))
      return out.sort((a, b) => a.poolId < b.poolId ? -1 : a.poolId > b.poolId ? 1 : 0)
    }

    /** The node and the node's own id of a pool id, qualified or (when unique) not. */
    const locate = (poolId: string): Effect.Effect<{ readonly entry: Entry; readonly local: PoolId }, PoolNotFound> =>
      Effect.suspend(() => {
        const { local, node } = splitPoolId(poolId)
        if (node !== undefined) {
          const entry = entries.get(node)
          return entry === undefined
            ? Effect.fail(new PoolNotFound({ poolId }))
            : Effect.succeed({ entry, local: PoolId.make(local) })
        }
        const holders = [...entries.values()].filter((entry) => entry.pools.has(local))
        const only = holders.length === 1 ? holders[0] : undefined
        return only === undefined
          ? Effect.fail(new PoolNotFound({ poolId }))
          : Effect.succeed({ entry: only, local: PoolId.make(local) })
      })

    const unavailable = (entry: Entry) =>
      new PoolManagerUnavailable({ url: entry.name, reason: `node ${entry.name} is unreachable` })
    /** Runs `f` on the pool's node; an unreachable node fails at once. */
    const onNode = <A, E, R>(
      poolId: PoolId,
      f: (manager: PoolManagerService, local: PoolId, entry: Entry) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E | PoolNotFound | PoolManagerUnavailable, R> =>
      Effect.flatMap(
        locate(poolId),
        ({ entry, local }): Effect.Effect<A, E | PoolManagerUnavailable, R> =>
          entry.state === "unreachable" ? Effect.fail(unavailable(entry)) : f(entry.manager, local, entry)
      )

    // a Snapshot across all nodes, then every change exactly once: the embedded manager's feed
    const { events, watch } = feedOf(changes, allStatuses)

    /** Every reachable node's models, with their node (and node-qualified pool ids). */
    const nodeModels = Effect.forEach(
      [...entries.values()].filter((entry) => entry.state !== "unreachable"),
      (entry) =>
        entry.manager.models.pipe(
          Effect.map((models) => models.map((model) => ({ entry, model }))),
          Effect.orElseSucceed(() => [])
        ),
      { concurrency: "unbounded" }
    ).pipe(Effect.map((all) => all.flat()))
    const named = (modelId: string) => (model: ModelStatus) => model.id === modelId || model.aliases.includes(modelId)
    const preference = (model: ModelStatus) =>
      model.state === "loaded" ? 0 : model.state === "loading" ? 1 : model.state === "evicting" ? 3 : 2
    const busy = (entry: Entry, all: ReadonlyArray<{ readonly entry: Entry; readonly model: ModelStatus }>) =>
      all.filter((x) => x.entry === entry && x.model.state !== "unloaded").length

    const manager: PoolManagerService = {
      register: (spec) => {
        const only = entries.size === 1 ? [...entries.values()][0] : undefined
        return only === undefined
          ? Effect.fail(
            new InvalidSpec({
              poolId: spec.id,
              reason: `${entries.size} nodes: register the pool with one node's own pool manager`
            })
          )
          : Effect.map(only.manager.register(spec), (status) => qualify(only, status))
      },
      remove: (poolId) => onNode(poolId, (m, local) => m.remove(local)),
      list: Effect.sync(allStatuses),
      status: (poolId) =>
        Effect.flatMap(locate(poolId), ({ entry, local }) => {
          const status = entry.pools.get(local)
          return status === undefined
            ? Effect.fail(new PoolNotFound({ poolId }))
            : Effect.succeed(qualify(entry, status))
        }),
      preload: (poolId) =>
        onNode(poolId, (m, local, entry) =>
          Effect.map(
            m.preload(local),
            (handoff) => new Handoff({ ...handoff, poolId: PoolId.make(`${entry.name}/${local}`) }, true)
          )),
      drain: (poolId, drainOptions) => onNode(poolId, (m, local) => m.drain(local, drainOptions)),
      reload: (poolId, reloadOptions) => onNode(poolId, (m, local) => m.reload(local, reloadOptions)),
      lease: (poolId) =>
        onNode(poolId, (m, local, entry) => {
          const qualified = PoolId.make(`${entry.name}/${local}`)
          return held.take(
            qualified,
            { entry, epoch: entry.epoch, local },
            Effect.map(m.lease(local), (lease) => new Lease({ ...lease, poolId: qualified }, true))
          )
        }),
      events,
      watch,
      health: Effect.map(Clock.currentTimeMillis, (now) => {
        const all = allStatuses()
        return new ManagerHealth({
          version: options.version ?? "0.0.0",
          uptimeMs: now - startedAt,
          pools: all.length,
          ready: all.filter((s) => s.ready).length
        })
      }),
      models: Effect.map(nodeModels, (all) =>
        all
          .map(({ entry, model }) =>
            new ModelStatus({
              ...model,
              node: entry.name,
              poolId: model.poolId === undefined ? undefined : `${entry.name}/${model.poolId}`
            }, true)
          )
          .sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : (a.node ?? "") < (b.node ?? "") ? -1 : 1)),
      // a node that serves the model already, else the one running the fewest models
      load: (modelId, loadOptions) =>
        Effect.flatMap(nodeModels, (all) => {
          const candidates = all.filter(({ model }) => named(modelId)(model)).sort((a, b) =>
            preference(a.model) - preference(b.model) || busy(a.entry, all) - busy(b.entry, all)
          )
          const chosen = candidates[0]
          return chosen === undefined
            ? Effect.fail(new ModelNotFound({ modelId, known: [...new Set(all.map(({ model }) => model.id))] }))
            : Effect.map(chosen.entry.manager.load(modelId, loadOptions), (status) => qualify(chosen.entry, status))
        }),
      unload: (modelId) =>
        Effect.flatMap(nodeModels, (all) => {
          const holders = all.filter(({ model }) => named(modelId)(model))
          return holders.length === 0
            ? Effect.fail(new ModelNotFound({ modelId, known: [...new Set(all.map(({ model }) => model.id))] }))
            : Effect.forEach(holders, ({ entry }) => entry.manager.unload(modelId), { discard: true })
        })
    }

    return {
      manager,
      add: (node) => Effect.asVoid(add(node)),
      remove,
      nodes: Effect.sync(() =>
        [...entries.values()].map((entry) => ({ name: entry.name, state: entry.state, pools: entry.pools.size }))
      )
    }
  })

/**
 * The nodes as the `PoolManager` layer.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (nodes: Iterable<Node>, options: Options = {}): Layer.Layer<PoolManager> =>
  Layer.scoped(PoolManager, Effect.map(make(nodes, options), (multi) => multi.manager))
