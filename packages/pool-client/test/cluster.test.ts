/**
 * A cluster found through DNS: two pool-managerd processes on 127.0.0.2 and 127.0.0.3 (loopback
 * addresses standing for nodes) behind a name a real DNS server on loopback answers. A node that
 * appears in DNS joins, one that leaves DNS leaves, one killed with SIGKILL is unreachable and
 * rejoins by itself when it is started again on the same address.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeHttpClient, NodeSocket } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Processes } from "@llama-orch/daemon-kit"
import { PoolId, type PoolManagerService, type PoolStatus } from "@llama-orch/pool-core"
import { Effect, Exit, Layer, Scope } from "effect"
import { PoolCluster } from "../src/index.js"
import { plainEngine, startDaemon } from "./support/daemon.js"
import { dnsServer, freePort } from "./support/dns.js"

/** A pool-managerd config listening on `host`, with one pool `p1` on the mock engine. */
const home = (host: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "cluster-node-" })
    const configPath = `${dir}/pool-managerd.yaml`
    yield* fs.writeFileString(
      configPath,
      JSON.stringify({
        host,
        // engines on the node's own address: the orchestrator sends work to them from elsewhere
        engine_host: host,
        stop_grace_ms: 2_000,
        shutdown_deadline_ms: 2_000,
        engines: [{ name: plainEngine, mock: true }],
        pools: [{ id: "p1", engine: plainEngine, model: "tiny" }]
      })
    )
    return { configPath, stateDir: `${dir}/state` }
  })

const ids = (statuses: ReadonlyArray<PoolStatus>) => statuses.map((s) => `${s.poolId} ${s.nodeState} ${s.state}`)

/** Waits until the cluster's pools are exactly `expected` (`id nodeState state`). */
const until = (pm: PoolManagerService, expected: ReadonlyArray<string>) =>
  pm.list.pipe(
    Effect.map(ids),
    Effect.filterOrFail((seen) => JSON.stringify(seen) === JSON.stringify(expected)),
    (check) => Processes.waitFor(check, { interval: "100 millis", timeout: "60 seconds" }),
    Effect.orElse(() =>
      Effect.flatMap(pm.list, (seen) => Effect.die(`expected ${expected.join(", ")}; saw ${ids(seen).join(", ")}`))
    )
  )

describe("PoolCluster", () => {
  it.live("follows the nodes a DNS name resolves to: join, leave, unreachable and back", () =>
    Effect.gen(function*() {
      const port = yield* freePort("127.0.0.2")
      const addresses = new Set(["127.0.0.2"])
      const dns = yield* dnsServer("pool-managerd.test", addresses)
      const homeA = yield* home("127.0.0.2")
      const homeB = yield* home("127.0.0.3")
      yield* startDaemon(homeA, port)
      // closed with the test even when it fails early, so the daemon in it never outlives the test
      const scopeB = yield* Effect.acquireRelease(Scope.make(), (scope) => Scope.close(scope, Exit.void))
      const b = yield* startDaemon(homeB, port).pipe(Scope.extend(scopeB))

      const pm = yield* PoolCluster.make({
        discovery: {
          dns: "pool-managerd.test",
          port,
          intervalMs: 200,
          servers: [`127.0.0.1:${dns.port}`]
        },
        keepalive: "300 millis",
        multi: { reconnectBaseMs: 100, reconnectCapMs: 300 }
      }).pipe(Effect.map((multi) => multi.manager))
      yield* until(pm, ["127.0.0.2/p1 reachable Ready"])

      // a new address joins, with its pools
      addresses.add("127.0.0.3")
      yield* until(pm, ["127.0.0.2/p1 reachable Ready", "127.0.0.3/p1 reachable Ready"])
      const lease = yield* Effect.scoped(pm.lease(PoolId.make("127.0.0.3/p1")))
      expect(lease.poolId).toBe("127.0.0.3/p1")
      expect(lease.url).toMatch(/^http:\/\/127\.0\.0\.3:/)

      // killed: unreachable at once, no leases; started again: back by itself
      yield* b.signal("SIGKILL")
      yield* until(pm, ["127.0.0.2/p1 reachable Ready", "127.0.0.3/p1 unreachable Ready"])
      const refused = yield* Effect.flip(Effect.scoped(pm.lease(PoolId.make("127.0.0.3/p1"))))
      expect(refused._tag).toBe("PoolManagerUnavailable")
      yield* Scope.close(scopeB, Exit.void)
      yield* startDaemon(homeB, port)
      yield* until(pm, ["127.0.0.2/p1 reachable Ready", "127.0.0.3/p1 reachable Ready"])

      // an address that leaves DNS takes its node's pools along
      addresses.delete("127.0.0.2")
      yield* until(pm, ["127.0.0.3/p1 reachable Ready"])
    }).pipe(
      Effect.scoped,
      Effect.provide(
        Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici, NodeSocket.layerWebSocketConstructor)
      )
    ), 180_000)
})
