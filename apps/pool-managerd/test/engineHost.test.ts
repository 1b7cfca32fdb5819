/**
 * `--engine-host` puts the engines on an address given at start-up rather than in the file: in
 * Kubernetes the container's arguments carry the pod IP (`--engine-host $(POD_IP)`), so one
 * ConfigMap serves every node and the leases name an address the orchestrator can reach.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Lease, PoolId } from "@llama-orch/pool-core"
import { Effect, Option, Redacted, Stream } from "effect"
import { entry, rpcClient, SpawnDaemon, writeConfig } from "./helpers.js"

const token = "engine-host-token"

describe("--engine-host", () => {
  it.scopedLive(
    "engines bind to the flag's address, not the file's engine_host, and leases name it",
    () =>
      Effect.gen(function*() {
        // 127.0.0.2 is loopback on Linux but not the default: only the flag can put the engine there
        const { dir, file } = yield* writeConfig(`
engine_host: 127.0.0.1
engines: [{ name: mock, mock: true }]
pools: [{ id: elsewhere, engine: mock, model: tiny }]
`)
        const daemon = yield* SpawnDaemon.spawnDaemon({
          entry,
          args: ["--config", file, "--port", "0", "--state-dir", `${dir}/state`, "--engine-host", "127.0.0.2"],
          env: { POOL_MANAGERD_TOKEN: token }
        })
        const client = yield* rpcClient(daemon.url, token)
        yield* client.Preload({ poolId: PoolId.make("elsewhere") })
        const lease = yield* client.Lease({ poolId: PoolId.make("elsewhere") }).pipe(
          Stream.filter((frame): frame is Lease => frame instanceof Lease),
          Stream.runHead,
          Effect.map(Option.getOrThrow)
        )
        const url = new URL(lease.url)
        expect(url.hostname).toBe("127.0.0.2")
        const key = lease.apiKey === undefined ? "" : Redacted.value(lease.apiKey)
        const answer = yield* Effect.promise(() =>
          fetch(`${lease.url}/completion`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
            body: JSON.stringify({ prompt: "hi", n_predict: 2 })
          }).then((response) => response.status)
        )
        expect(answer).toBe(200)
        // nothing listens on the file's address at that port
        const refused = yield* Effect.promise(() =>
          fetch(`http://127.0.0.1:${url.port}/health`).then(() => "answered", () => "refused")
        )
        expect(refused).toBe("refused")
      }).pipe(Effect.provide(NodeContext.layer)),
    { timeout: 60_000 }
  )
})
