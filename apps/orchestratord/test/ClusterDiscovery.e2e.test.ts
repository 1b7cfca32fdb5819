/**
 * orchestratord over pool-managerds it finds in DNS: a real DNS server on loopback (asked through
 * `discovery.servers`) answers the nodes' addresses, pool-managerd processes listen on 127.0.0.2-5
 * (one address = one node, all on the same port). Under a steady load a fourth address is added
 * (its pool joins `/v2/pools` and takes tasks), then one is removed (its pool leaves placement and
 * `orchestratord_pool_manager_up` reads 0), and every accepted task ends exactly once, with `end`.
 */
import { FileSystem } from "@effect/platform"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, it } from "@effect/vitest"
import { Effect, Fiber, Ref, Schedule } from "effect"
import { dnsServer, freePort } from "../../../packages/pool-client/test/support/dns.js"
import { pools, runTask, spawnNode, spawnOrchestratorWith, until } from "./fixtures/cluster.js"

const name = "pool-managerd.cluster.test"
const fast = "mock: true, args: [\"--tps\", \"300\"]"

/** What a task of the load saw: the nodes present when it was submitted, where it ran, how it ended. */
interface Outcome {
  readonly phase: "three" | "four" | "removed"
  readonly placed: ReadonlyArray<string>
  readonly terminal: ReadonlyArray<string>
}

it.live(
  "orchestratord with DNS discovery: a node added at run time takes tasks, a removed one leaves placement",
  () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "cluster-dns-" })
      const addresses = new Set(["127.0.0.2", "127.0.0.3", "127.0.0.4"])
      const dns = yield* dnsServer(name, addresses)
      const port = yield* freePort("127.0.0.2")
      // the nodes and orchestratord start together: nodes that do not answer yet join when they do
      const [orch] = yield* Effect.all([
        spawnOrchestratorWith(dir, "orch", [
          "discovery:",
          `  dns: ${name}`,
          `  port: ${port}`,
          "  interval_ms: 100",
          `  servers: ["127.0.0.1:${dns.port}"]`
        ]),
        ...["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"].map((host) =>
          spawnNode(dir, host, port, { host, engine: fast })
        )
      ], { concurrency: "unbounded" })
      yield* until(orch.url, [
        "127.0.0.2/p reachable Ready",
        "127.0.0.3/p reachable Ready",
        "127.0.0.4/p reachable Ready"
      ])

      // a steady load from here to the end: four clients, each submitting its next task when one ends
      const phase = yield* Ref.make<Outcome["phase"]>("three")
      const stop = yield* Ref.make(false)
      const outcomes = yield* Ref.make<ReadonlyArray<Outcome>>([])
      const client = Effect.gen(function*() {
        const submittedIn = yield* Ref.get(phase)
        const { placed, terminal } = yield* runTask(orch.url)
        yield* Ref.update(outcomes, (all) => [...all, { phase: submittedIn, placed, terminal }])
      }).pipe(Effect.repeat({ until: () => Ref.get(stop) }))
      const load = yield* Effect.fork(Effect.all([client, client, client, client], { concurrency: "unbounded" }))
      /** Waits until the load has finished a task submitted in `p` that ran on `poolId` (or anywhere). */
      const ranIn = (p: Outcome["phase"], poolId?: string) =>
        Ref.get(outcomes).pipe(
          Effect.filterOrFail((all) =>
            all.some((o) => o.phase === p && (poolId === undefined || o.placed.at(-1) === poolId))
          ),
          Effect.retry(Schedule.spaced("25 millis").pipe(Schedule.upTo("20 seconds"))),
          Effect.orDie
        )

      // a fourth address in DNS: its node joins and its pool takes tasks
      addresses.add("127.0.0.5")
      yield* until(orch.url, [
        "127.0.0.2/p reachable Ready",
        "127.0.0.3/p reachable Ready",
        "127.0.0.4/p reachable Ready",
        "127.0.0.5/p reachable Ready"
      ])
      yield* Ref.set(phase, "four")
      yield* ranIn("four", "127.0.0.5/p")
      const scrape = Effect.promise(() => fetch(`${orch.url}/metrics`).then((r) => r.text()))
      expect(yield* scrape).toMatch(/^orchestratord_pool_manager_up\{node="127\.0\.0\.2"\} 1$/m)

      // an address leaves DNS: its pool leaves /v2/pools and placement, /metrics says the node is down
      addresses.delete("127.0.0.2")
      yield* until(orch.url, [
        "127.0.0.3/p reachable Ready",
        "127.0.0.4/p reachable Ready",
        "127.0.0.5/p reachable Ready"
      ])
      yield* Ref.set(phase, "removed")
      const metrics = yield* scrape
      expect(metrics).toMatch(/^orchestratord_pool_manager_up\{node="127\.0\.0\.2"\} 0$/m)
      expect(metrics).toMatch(/^orchestratord_pool_manager_up\{node="127\.0\.0\.5"\} 1$/m)
      // enough tasks after the removal that each remaining node had its turn
      yield* Effect.forEach(["127.0.0.3/p", "127.0.0.4/p", "127.0.0.5/p"], (poolId) => ranIn("removed", poolId), {
        discard: true
      })
      yield* Ref.set(stop, true)
      yield* Fiber.join(load)

      const all = yield* Ref.get(outcomes)
      // accepted = ended: each task one terminal event, every one a normal end
      expect(all.filter((o) => JSON.stringify(o.terminal) !== JSON.stringify(["end"]))).toEqual([])
      const nodesOf = (p: Outcome["phase"]) =>
        new Set(all.filter((o) => o.phase === p).flatMap((o) => o.placed.map((id) => id.split("/")[0])))
      expect(nodesOf("four")).toEqual(new Set(["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]))
      expect(nodesOf("removed").has("127.0.0.2")).toBe(false)
      expect((yield* pools(orch.url)).map((p) => p.node)).toEqual(["127.0.0.3", "127.0.0.4", "127.0.0.5"])
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
  60_000
)
