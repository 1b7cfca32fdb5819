/**
 * orchestratord over three pool-managerd processes (one pool each, mock engines), named in its
 * configuration: pool ids qualified by node, tasks spread by load, a node killed with SIGKILL during
 * a burst (every accepted task still ends exactly once: not yet started ones elsewhere, in-flight ones
 * with WORKER_RESET), its pools unreachable at once, and the node back by itself when it restarts.
 */
import { FileSystem } from "@effect/platform"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, it } from "@effect/vitest"
import { Effect, Exit, Schedule, Scope } from "effect"
import { pools, runTask, spawnNode, spawnOrchestrator, until } from "./fixtures/cluster.js"

it.live(
  "orchestratord over three pool-managerds: qualified pools, spread, SIGKILL, rejoin",
  () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "cluster-" })
      const node = (name: string, port: number) => spawnNode(dir, name, port)
      const a = yield* node("a", 0)
      const c = yield* node("c", 0)
      // closed with the test even when it fails early, so the daemon in it never outlives the test
      const scopeB = yield* Effect.acquireRelease(Scope.make(), (scope) => Scope.close(scope, Exit.void))
      const b = yield* node("b", 0).pipe(Scope.extend(scopeB))
      const portB = Number(new URL(b.url).port)
      const orch = yield* spawnOrchestrator(dir, "orch", [
        { name: "a", url: a.url },
        { name: "b", url: b.url },
        { name: "c", url: c.url }
      ])
      yield* until(orch.url, ["a/p reachable Ready", "b/p reachable Ready", "c/p reachable Ready"])
      const listed = yield* pools(orch.url)
      expect(listed.map((p) => p.node)).toEqual(["a", "b", "c"])

      // a burst of tasks spreads over the nodes; b dies while they run
      const burst = yield* Effect.forEach(Array.from({ length: 12 }), () => runTask(orch.url), {
        concurrency: "unbounded"
      }).pipe(Effect.fork)
      yield* pools(orch.url).pipe(
        Effect.filterOrFail((all) => all.every((p) => p.state === "Ready")),
        Effect.zipRight(Effect.promise(() => fetch(`${orch.url}/metrics`).then((r) => r.text()))),
        Effect.filterOrFail((text) => /orchestratord_tasks_started_total\{[^}]*pool_id="b\/p"[^}]*\} [1-9]/.test(text)),
        Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("30 seconds"))),
        Effect.orDie
      )
      yield* b.signal("SIGKILL")
      const results = yield* Effect.fromFiber(burst)
      // every accepted task ended exactly once
      for (const r of results) expect(r.terminal).toHaveLength(1)
      const nodesUsed = new Set(results.flatMap((r) => r.placed.map((p) => p.split("/")[0])))
      expect(nodesUsed.size).toBeGreaterThanOrEqual(2)
      // the ones cut on b end with WORKER_RESET (after tokens) or ran again elsewhere (before any)
      for (const r of results) {
        if (r.terminal[0] !== "end") expect(r.terminal[0]).toBe("WORKER_RESET")
        if (r.requeued) expect(r.placed.at(-1)?.startsWith("b/")).toBe(false)
      }
      yield* until(orch.url, ["a/p reachable Ready", "b/p unreachable Ready", "c/p reachable Ready"])
      const metrics = yield* Effect.promise(() => fetch(`${orch.url}/metrics`).then((r) => r.text()))
      expect(metrics).toMatch(/^orchestratord_pool_manager_up\{node="b"\} 0$/m)
      expect(metrics).toMatch(/^orchestratord_pool_manager_up\{node="a"\} 1$/m)
      // work goes on on the others
      const after = yield* runTask(orch.url)
      expect(after.terminal).toEqual(["end"])
      expect(after.placed.at(-1)?.startsWith("b/")).toBe(false)

      // b comes back on its address and rejoins by itself
      yield* Scope.close(scopeB, Exit.void)
      yield* node("b", portB)
      yield* until(orch.url, ["a/p reachable Ready", "b/p reachable Ready", "c/p reachable Ready"])
      const backOn = yield* Effect.forEach(Array.from({ length: 6 }), () => runTask(orch.url), {
        concurrency: "unbounded"
      })
      expect(backOn.every((r) => r.terminal[0] === "end")).toBe(true)
      expect(backOn.some((r) => r.placed.at(-1) === "b/p")).toBe(true)

      // drain a node's pool through the control plane (the qualified id, URL-encoded)
      const drained = yield* Effect.promise(() =>
        fetch(`${orch.url}/v2/pools/${encodeURIComponent("b/p")}/drain`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ deadline_ms: 1_000 })
        }).then((r) => r.status)
      )
      expect(drained).toBe(202)
      yield* until(orch.url, ["a/p reachable Ready", "b/p reachable Stopped", "c/p reachable Ready"])
      const elsewhere = yield* runTask(orch.url)
      expect(elsewhere.terminal).toEqual(["end"])
      expect(elsewhere.placed.at(-1)?.startsWith("b/")).toBe(false)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
  240_000
)
