/**
 * Two orchestratords in front of the same three pool-managerd nodes (processes), under load: the
 * nodes' leases are the only thing that keeps a slot from being given twice, since each orchestratord
 * admits from its own view of the pools. Each node's engine is a mock engine with far more slots than
 * its pool, so the engine's `mock_max_concurrent_requests` gauge shows how many requests the pool let
 * through at once: it never exceeds the pool's slots, and every accepted task ends exactly once.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { expect, it } from "@effect/vitest"
import { mockEngineCommand, mockEngineProfileArgs } from "@llama-orch/mock-engine"
import { PoolClient } from "@llama-orch/pool-client"
import { PoolId, PoolManager } from "@llama-orch/pool-core"
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import { clusterToken, runTask, spawnNode, spawnOrchestrator, until } from "./fixtures/cluster.js"

const poolSlots = 2
const engineSlots = 16
const tasksPerOrchestrator = 20

/** The mock engine with `engineSlots` slots whatever the pool's, so that only the pool limits it. */
const roomyEngine = (() => {
  const mock = mockEngineCommand()
  const template = mockEngineProfileArgs.map((arg) => arg === "{slots}" ? String(engineSlots) : arg)
  return `command: ${JSON.stringify(mock.command)}, args: ${JSON.stringify([...mock.args, ...template, "--tps", "60"])}`
})()

/** The engine behind pool `p` of the node at `url` (its handoff, over the node's RPC) and its peak concurrency. */
const engineMaxConcurrent = (url: string) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      PoolClient.layer({ url, token: Redacted.make(clusterToken) }).pipe(Layer.provide(NodeHttpClient.layerUndici))
    )
    const status = yield* Context.get(context, PoolManager).status(Schema.decodeSync(PoolId)("p"))
    const engine = status.handoff?.url
    expect(engine).toBeDefined()
    const text = yield* Effect.promise(() => fetch(`${engine}/metrics`).then((r) => r.text()))
    const match = /^mock_max_concurrent_requests (\d+)$/m.exec(text)
    expect(match).not.toBeNull()
    return { slots: status.slotsTotal, max: Number(match?.[1]) }
  }).pipe(Effect.scoped, Effect.orDie)

it.live(
  "two orchestratords over three pool-managerds: no slot oversubscribed, every task ends once",
  () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "cluster2-" })
      const nodes = yield* Effect.forEach(
        ["a", "b", "c"],
        (name) =>
          Effect.map(
            spawnNode(dir, name, 0, { slots: poolSlots, engine: roomyEngine }),
            (daemon) => ({ name, url: daemon.url })
          ),
        { concurrency: "unbounded" }
      )
      const orchestrators = yield* Effect.forEach(
        ["one", "two"],
        (name) => spawnOrchestrator(dir, name, nodes),
        { concurrency: "unbounded" }
      )
      for (const orch of orchestrators) {
        yield* until(orch.url, ["a/p reachable Ready", "b/p reachable Ready", "c/p reachable Ready"])
      }

      // 40 tasks at once, half on each orchestratord: 6 slots in all, so most wait for a slot
      const results = yield* Effect.forEach(
        orchestrators.flatMap((orch) => Array.from({ length: tasksPerOrchestrator }, () => orch.url)),
        runTask,
        { concurrency: "unbounded" }
      )
      expect(results).toHaveLength(2 * tasksPerOrchestrator)
      expect(new Set(results.map((r) => r.taskId)).size).toBe(2 * tasksPerOrchestrator)
      for (const r of results) expect(r.terminal).toEqual(["end"])
      // both orchestratords placed work on every node
      const placed = new Set(results.flatMap((r) => r.placed))
      expect([...placed].sort()).toEqual(["a/p", "b/p", "c/p"])

      const engines = yield* Effect.forEach(nodes, (node) => engineMaxConcurrent(node.url))
      for (const engine of engines) {
        expect(engine.slots).toBe(poolSlots)
        expect(engine.max).toBeLessThanOrEqual(poolSlots)
      }
      // the load did overlap: some engine ran as many requests as its pool has slots
      expect(Math.max(...engines.map((e) => e.max))).toBe(poolSlots)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
  240_000
)
