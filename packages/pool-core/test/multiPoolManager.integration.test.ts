import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Processes } from "@llama-orch/daemon-kit"
import { Context, Effect, Layer, Logger, LogLevel } from "effect"
import {
  EmbeddedPoolManager,
  MultiPoolManager,
  type PoolEvent,
  PoolId,
  PoolManager,
  type PoolManagerService,
  PoolSpec,
  type PoolStatus
} from "../src/index.js"
import { cuttable } from "./support/cuttable.js"
import { profiles } from "./support/harness.js"

const id = PoolId.make

/** An embedded manager with the fast fake engine, on its own state directory, with Ready pools. */
const node = (pools: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "multi-node-" })
    const context = yield* Layer.build(EmbeddedPoolManager.layer({ profiles, stateDir, stopGraceMs: 2_000 }))
    const manager = Context.get(context, PoolManager)
    for (const pool of pools) {
      yield* manager.register(new PoolSpec({ id: id(pool), engine: "fake", model: `model-${pool}`, preload: false }))
      yield* manager.preload(id(pool))
    }
    return manager
  })

/** Collects the combined manager's events in order. */
const record = (manager: PoolManagerService) =>
  Effect.gen(function*() {
    const seen: Array<PoolEvent> = []
    yield* Effect.forkScoped(manager.watch((event) => void seen.push(event)))
    yield* Effect.yieldNow()
    return seen
  })

const statuses = (events: ReadonlyArray<PoolEvent>, reason: string): ReadonlyArray<PoolStatus> =>
  events.flatMap((e) => e._tag === "StatusChanged" && e.reason === reason ? [e.status] : [])

/** Waits until the nodes' events make `condition` true. */
const eventually = (condition: () => boolean) =>
  Processes.waitFor(
    Effect.suspend(() => condition() ? Effect.void : Effect.fail(new Error("the condition never held"))),
    { interval: "10 millis", timeout: "10 seconds" }
  )

describe("MultiPoolManager over two embedded managers", () => {
  it.live("qualified ids, node state, routing, unreachable and back, membership", () =>
    Effect.gen(function*() {
      const a = cuttable(yield* node(["p", "only-a"]))
      const b = yield* node(["p"])
      const multi = yield* MultiPoolManager.make([{ name: "gpu-a", manager: a.node }, { name: "gpu-b", manager: b }], {
        reconnectBaseMs: 20,
        reconnectCapMs: 100
      })
      const pm = multi.manager
      const listed = yield* pm.list
      expect(listed.map((s) => [s.poolId, s.node, s.nodeState, s.state])).toEqual([
        ["gpu-a/only-a", "gpu-a", "reachable", "Ready"],
        ["gpu-a/p", "gpu-a", "reachable", "Ready"],
        ["gpu-b/p", "gpu-b", "reachable", "Ready"]
      ])
      // unqualified ids work when unique
      expect((yield* pm.status(id("only-a"))).poolId).toBe("gpu-a/only-a")
      expect((yield* Effect.flip(pm.status(id("p"))))._tag).toBe("PoolNotFound")
      expect((yield* Effect.flip(pm.status(id("gpu-c/p"))))._tag).toBe("PoolNotFound")

      const events = yield* record(pm)
      expect(events[0]?._tag).toBe("Snapshot")
      // a lease goes to the right node and names the qualified pool
      yield* Effect.scoped(Effect.gen(function*() {
        const lease = yield* pm.lease(id("gpu-b/p"))
        expect(lease.poolId).toBe("gpu-b/p")
        expect(lease.url).toBe((yield* b.status(id("p"))).handoff?.url)
        expect((yield* pm.status(id("gpu-b/p"))).activeLeases).toBe(1)
      }))
      expect(events.some((e) => e._tag === "StatusChanged" && e.status.poolId === "gpu-b/p")).toBe(true)

      // node a stops answering: its pools are unreachable at once and take no leases
      yield* a.cut
      yield* eventually(() => statuses(events, "node-unreachable").length === 2)
      for (const s of statuses(events, "node-unreachable")) {
        expect(s).toMatchObject({ node: "gpu-a", nodeState: "unreachable", ready: false })
      }
      const refused = yield* Effect.flip(Effect.scoped(pm.lease(id("gpu-a/p"))))
      expect(refused._tag).toBe("PoolManagerUnavailable")
      expect((yield* multi.nodes).map((n) => [n.name, n.state])).toEqual([["gpu-a", "unreachable"], [
        "gpu-b",
        "reachable"
      ]])

      // and it comes back by itself
      yield* a.restore
      yield* eventually(() => statuses(events, "node-reachable").length === 2)
      expect(yield* pm.status(id("gpu-a/p"))).toMatchObject({ nodeState: "reachable", ready: true })
      yield* Effect.scoped(pm.lease(id("gpu-a/p")))

      // a node that leaves takes its pools along
      yield* multi.remove("gpu-b")
      expect(statuses(events, "removed").map((s) => s.poolId)).toEqual(["gpu-b/p"])
      expect((yield* pm.list).map((s) => s.poolId)).toEqual(["gpu-a/only-a", "gpu-a/p"])
      // now "p" is unique again
      expect((yield* pm.status(id("p"))).poolId).toBe("gpu-a/p")
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)),
      Logger.withMinimumLogLevel(LogLevel.Error)
    ), 60_000)
})
