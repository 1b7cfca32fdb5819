/**
 * `mockEngineProfile()` under the real embedded pool manager: the manager spawns the mock engine
 * from the profile, reads its version, and leases carry the engine's fresh API key.
 */
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { EmbeddedPoolManager, PoolId, PoolManager, PoolSpec } from "@llama-orch/pool-core"
import { Effect, Layer, Redacted } from "effect"
import packageJson from "../package.json" with { type: "json" }
import { mockEngineProfile } from "../src/index.js"

const poolId = PoolId.make("profile-0")

const status = (url: string, apiKey?: string) =>
  Effect.promise(() =>
    fetch(url, {
      signal: AbortSignal.timeout(10_000),
      ...(apiKey === undefined ? {} : { headers: { authorization: `Bearer ${apiKey}` } })
    }).then((response) => response.arrayBuffer().then(() => response.status))
  )

describe("mockEngineProfile", () => {
  it("fills the profile from the mock engine's command, with extra flags, name and protocol", () => {
    const profile = mockEngineProfile({ name: "fast", protocol: "openai", args: ["--tps", "50"] })
    expect(profile.name).toBe("fast")
    expect(profile.protocol).toBe("openai")
    expect(profile.command).toBe(process.execPath)
    expect(profile.args.slice(-12)).toEqual([
      "--host",
      "{host}",
      "--port",
      "{port}",
      "--model",
      "{model}",
      "--slots",
      "{slots}",
      "--ctx",
      "{ctx}",
      "--tps",
      "50"
    ])
    expect(profile.env).toEqual({ LLAMA_API_KEY: "{api_key}" })
    expect(profile.healthPath).toBe("/health")
    expect(profile.versionArgs?.at(-1)).toBe("--version")
  })

  it.scopedLive(
    "runs the mock engine under the embedded pool manager, with its version and an API key",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "mock-profile-" })
        const pools = EmbeddedPoolManager.layer({
          profiles: [mockEngineProfile()],
          stateDir,
          stopGraceMs: 2_000,
          pools: [PoolSpec.make({ id: poolId, engine: "mock", model: "tiny", slots: 2, preload: false })]
        })
        const pid = yield* Effect.gen(function*() {
          const manager = yield* PoolManager
          const handoff = yield* manager.preload(poolId)
          expect(handoff.engineVersion).toBe(`version: ${packageJson.version} (mock-engine)`)
          const lease = yield* manager.lease(poolId)
          expect(lease.url).toBe(handoff.url)
          if (lease.apiKey === undefined) return expect.fail("the lease carries no API key")
          expect(yield* status(`${lease.url}/health`)).toBe(200)
          expect(yield* status(`${lease.url}/props`)).toBe(401)
          expect(yield* status(`${lease.url}/props`, Redacted.value(lease.apiKey))).toBe(200)
          return handoff.pid
        }).pipe(Effect.scoped, Effect.provide(pools))
        expect(SpawnDaemon.isProcessAlive(pid)).toBe(false)
      }).pipe(Effect.provide(Layer.merge(NodeContext.layer, NodeHttpClient.layerUndici))),
    60_000
  )
})
