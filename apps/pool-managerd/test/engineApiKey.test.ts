/**
 * Engines listen authenticated: every engine process of a profile with `{api_key}` gets a fresh
 * key that only the leases of its pool carry, so no other process on the machine can use the engine
 * behind the orchestrator's back — and the key shows in no status, event, log line or process list.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Lease, PoolId } from "@llama-orch/pool-core"
import { Effect, Option, Redacted, Stream } from "effect"
import { readFileSync } from "node:fs"
import { entry, getText, rpcClient, SpawnDaemon, writeConfig } from "./helpers.js"

const token = "engine-key-token"

const completion = (url: string, authorization?: string) =>
  Effect.promise(() =>
    fetch(`${url}/completion`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(authorization === undefined ? {} : { authorization })
      },
      body: JSON.stringify({ prompt: "hi", n_predict: 2 })
    }).then(async (response) => ({ status: response.status, text: await response.text() }))
  )

describe("engine API keys", () => {
  it.scopedLive(
    "a mock pool's engine refuses requests without the lease's key, which leaks nowhere",
    () =>
      Effect.gen(function*() {
        const { dir, file } = yield* writeConfig(`
engines: [{ name: mock, mock: true }]
pools: [{ id: keyed, engine: mock, model: tiny }]
`)
        const daemon = yield* SpawnDaemon.spawnDaemon({
          entry,
          args: ["--config", file, "--port", "0", "--state-dir", `${dir}/state`],
          env: { POOL_MANAGERD_TOKEN: token }
        })
        const client = yield* rpcClient(daemon.url, token)
        yield* client.Preload({ poolId: PoolId.make("keyed") })
        const lease = yield* client.Lease({ poolId: PoolId.make("keyed") }).pipe(
          Stream.filter((frame): frame is Lease => frame instanceof Lease),
          Stream.runHead,
          Effect.map(Option.getOrThrow)
        )
        const key = lease.apiKey === undefined ? "" : Redacted.value(lease.apiKey)
        expect(key.length).toBeGreaterThanOrEqual(32)

        // the engine answers only with the key
        expect((yield* completion(lease.url)).status).toBe(401)
        expect((yield* completion(lease.url, "Bearer wrong")).status).toBe(401)
        expect((yield* completion(lease.url, `Bearer ${key}`)).status).toBe(200)
        expect((yield* Effect.promise(() => fetch(`${lease.url}/health`))).status).toBe(200)

        // ... and the key is nowhere but in the lease: not in statuses, the handoff, /health, logs, argv
        const statuses = JSON.stringify(yield* client.List())
        expect(statuses).not.toContain(key)
        expect(yield* getText(`${daemon.url}/health`)).not.toContain(key)
        expect(String(lease)).not.toContain(key)
        const enginePid = (yield* client.Status({ poolId: PoolId.make("keyed") })).handoff?.pid ?? 0
        expect(readFileSync(`/proc/${enginePid}/cmdline`, "utf8")).not.toContain(key)
        expect(yield* daemon.stderr).not.toContain(key)
      }).pipe(Effect.provide(NodeContext.layer)),
    { timeout: 60_000 }
  )
})
