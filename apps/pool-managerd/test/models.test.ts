/**
 * pool-managerd's model catalog from its configuration file: models loaded and evicted over RPC,
 * counted by reason in `/metrics` (there at zero before the first load), and keep_loaded models
 * loaded at start.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { getText, rpcClient, spawnWithToken } from "./helpers.js"

const token = "pm-models-token-2b7e"

const config = `
engines:
  - name: mock
    mock: true
devices:
  - { id: "0", memory_mb: 2000 }
default_min_residency_ms: 0
models:
  - { id: pinned, engine: mock, model: pinned.gguf, footprint_mb: 1000, keep_loaded: true }
  - { id: x, engine: mock, model: x.gguf, footprint_mb: 1000 }
  - { id: y, aliases: [why], engine: mock, model: y.gguf, footprint_mb: 1000 }
stop_grace_ms: 3000
shutdown_deadline_ms: 3000
`

const series = (metrics: string, name: string, reason: string) =>
  Number(new RegExp(`^${name}\\{reason="${reason}"\\} (\\d+)$`, "m").exec(metrics)?.[1] ?? Number.NaN)

describe("pool-managerd model catalog", () => {
  it.scopedLive(
    "loads a pinned model at start, loads and evicts on demand over RPC, and counts both",
    () =>
      Effect.gen(function*() {
        const daemon = yield* spawnWithToken(config, token)
        const before = yield* getText(`${daemon.url}/metrics`)
        expect(series(before, "pool_managerd_model_loads_total", "on_demand")).toBe(0)
        expect(series(before, "pool_managerd_model_evictions_total", "make_room")).toBe(0)
        const client = yield* rpcClient(daemon.url, token)
        yield* client.Models().pipe(
          Effect.filterOrFail((models) => models.find((m) => m.id === "pinned")?.state === "loaded", () => "not yet"),
          Effect.retry(Schedule.spaced("100 millis"))
        )
        const x = yield* client.Load({ modelId: "x" })
        expect(x).toMatchObject({ modelId: "x", model: "x.gguf", ready: true, deviceMask: "0" })
        // the pinned model is never evicted: x goes for y
        const y = yield* client.Load({ modelId: "why" })
        expect(y.modelId).toBe("y")
        const states = Object.fromEntries((yield* client.Models()).map((m) => [m.id, m.state]))
        expect(states).toEqual({ pinned: "loaded", x: "unloaded", y: "loaded" })
        yield* client.Unload({ modelId: "y" })
        const after = yield* getText(`${daemon.url}/metrics`)
        expect(series(after, "pool_managerd_model_loads_total", "preload")).toBe(1)
        expect(series(after, "pool_managerd_model_loads_total", "on_demand")).toBe(2)
        expect(series(after, "pool_managerd_model_evictions_total", "make_room")).toBe(1)
        expect(series(after, "pool_managerd_model_evictions_total", "unload")).toBe(1)
        expect(series(after, "pool_managerd_model_evictions_total", "idle_ttl")).toBe(0)
      }).pipe(Effect.provide(NodeContext.layer)),
    120_000
  )
})
