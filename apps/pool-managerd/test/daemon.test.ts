import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { EngineNotAllowed, PoolId, PoolSpec, Unauthorized } from "@llama-orch/pool-core"
import { Effect, Schedule } from "effect"
import {
  alive,
  awaitGone,
  awaitReady,
  childPids,
  entry,
  expectConformant,
  getText,
  rpcClient,
  SpawnDaemon,
  spawnWithToken,
  writeConfig
} from "./helpers.js"

const token = "pm-test-token-6f1c9a"

const mockConfig = `
engines:
  - name: mock
    mock: true
    args: ["--load-ms", "100"]
pools:
  - id: mock-a
    engine: mock
    model: tiny
    slots: 2
    ctx_max: 2048
shutdown_deadline_ms: 5000
allow_remote_register: true
stop_grace_ms: 5000
`

describe("pool-managerd as a real process", () => {
  it.scopedLive(
    "starts, preloads the configured mock pool, serves /health, /metrics and /rpc, counts a restart, and drains on SIGTERM",
    () =>
      Effect.gen(function*() {
        const { dir, file } = yield* writeConfig(mockConfig)
        const daemon = yield* SpawnDaemon.spawnDaemon({
          entry,
          args: ["--config", file, "--port", "0", "--state-dir", `${dir}/state`],
          env: { POOL_MANAGERD_TOKEN: token }
        })
        expect(daemon.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)

        const health = yield* awaitReady(daemon.url, ["mock-a"])
        expect(health.pools).toEqual([expect.objectContaining({ pool_id: "mock-a", state: "Ready", ready: true })])

        const metrics = yield* getText(`${daemon.url}/metrics`)
        expect(metrics).toMatch(/^pool_managerd_pool_ready\{pool_id="mock-a",engine="mock"\} 1$/m)
        expect(metrics).toMatch(/^pool_managerd_pool_slots\{pool_id="mock-a",engine="mock"\} 2$/m)
        expect(metrics).toMatch(/^pool_managerd_pool_slots_free\{pool_id="mock-a",engine="mock"\} 2$/m)
        expect(metrics).toMatch(/^pool_managerd_pool_active_leases\{pool_id="mock-a",engine="mock"\} 0$/m)
        expect(metrics).toMatch(/^pool_managerd_pool_state\{pool_id="mock-a",engine="mock",state="Ready"\} 1$/m)
        expect(metrics).toMatch(/^pool_managerd_pool_state\{pool_id="mock-a",engine="mock",state="Starting"\} 0$/m)
        expect(metrics).toMatch(
          /^pool_managerd_pool_preload_duration_seconds_count\{pool_id="mock-a",engine="mock"\} 1$/m
        )
        // the restart counter is there at 0 before the first restart
        expect(metrics).toMatch(/^# TYPE pool_managerd_pool_restarts_total counter$/m)
        expect(metrics).toMatch(/^pool_managerd_pool_restarts_total\{pool_id="mock-a",engine="mock"\} 0$/m)
        yield* expectConformant(metrics)

        // the RPC endpoint needs the token, and only configured engine profiles may be registered
        const client = yield* rpcClient(daemon.url, token)
        const pools = yield* client.List()
        expect(pools.map((p) => p.poolId)).toEqual(["mock-a"])
        const enginePid = pools[0]?.handoff?.pid
        if (enginePid === undefined) return expect.fail("the Ready pool has no handoff")
        expect(alive(enginePid)).toBe(true)
        const notAllowed = yield* Effect.flip(
          client.Register(PoolSpec.make({ id: PoolId.make("evil"), engine: "sh", model: "x" }))
        )
        expect(notAllowed).toBeInstanceOf(EngineNotAllowed)
        const intruder = yield* rpcClient(daemon.url, "wrong-token")
        const denied = yield* Effect.flip(intruder.List())
        expect(denied).toBeInstanceOf(Unauthorized)
        const anonymous = yield* rpcClient(daemon.url, undefined)
        expect(yield* Effect.flip(anonymous.Health())).toBeInstanceOf(Unauthorized)
        // the same contract over WebSocket
        const ws = yield* rpcClient(daemon.url, token, "websocket")
        expect((yield* ws.Health()).ready).toBe(1)
        const wsIntruder = yield* rpcClient(daemon.url, "wrong-token", "websocket")
        expect(yield* Effect.flip(wsIntruder.Status({ poolId: PoolId.make("mock-a") }))).toBeInstanceOf(Unauthorized)

        // a crashed engine is restarted by the supervisor: the restart counter moves once
        process.kill(enginePid, "SIGKILL")
        yield* awaitGone(enginePid)
        const restarted = yield* client.Status({ poolId: PoolId.make("mock-a") }).pipe(
          Effect.filterOrFail((status) => status.ready && status.handoff?.pid !== enginePid, () => "not restarted yet"),
          Effect.retry({ schedule: Schedule.spaced("250 millis"), times: 480 })
        )
        expect(restarted.restarts).toBeGreaterThanOrEqual(1)
        const newPid = restarted.handoff?.pid
        if (newPid === undefined) return expect.fail("the restarted pool has no handoff")
        const after = yield* getText(`${daemon.url}/metrics`)
        expect(after).toMatch(
          new RegExp(
            `^pool_managerd_pool_restarts_total\\{pool_id="mock-a",engine="mock"\\} ${restarted.restarts}$`,
            "m"
          )
        )
        expect(after).toMatch(
          /^pool_managerd_pool_preload_duration_seconds_count\{pool_id="mock-a",engine="mock"\} 2$/m
        )
        expect(after).toMatch(/^pool_managerd_pool_ready\{pool_id="mock-a",engine="mock"\} 1$/m)
        // a preload of the mock engine (100 ms of loading) takes well under a minute: seconds, not milliseconds
        const preloadSum = /^pool_managerd_pool_preload_duration_seconds_sum\{pool_id="mock-a",engine="mock"\} (\S+)$/m
          .exec(after)
        expect(Number(preloadSum?.[1])).toBeGreaterThan(0.1)
        expect(Number(preloadSum?.[1])).toBeLessThan(120)
        yield* expectConformant(after)

        // SIGTERM: drain, stop the engine, exit 0
        yield* daemon.signal("SIGTERM")
        const exit = yield* daemon.exit
        expect(exit).toEqual({ _tag: "Exited", code: 0 })
        expect(alive(daemon.pid)).toBe(false)
        yield* awaitGone(newPid)
        expect(alive(newPid)).toBe(false)

        const stdout = yield* daemon.stdout
        const stderr = yield* daemon.stderr
        expect(stdout).toBe(`listening on ${daemon.url}\n`)
        expect(stdout + stderr).not.toContain(token)
        const messages = stderr.trim().split("\n").map((line): unknown => JSON.parse(line))
        expect(messages).toContainEqual(expect.objectContaining({ message: "pool-managerd is starting.", auth: true }))
        expect(messages).toContainEqual(expect.objectContaining({ level: "info", pool_id: "mock-a", engine: "mock" }))
        expect(messages.at(-1)).toEqual(
          expect.objectContaining({ message: "pool-managerd stopped; every engine is stopped." })
        )
      }).pipe(Effect.provide(NodeContext.layer)),
    240_000
  )

  it.scopedLive(
    "with its stdout and stderr closed (their reader went away), SIGTERM still stops the engine and exits 0",
    () =>
      Effect.gen(function*() {
        const daemon = yield* spawnWithToken(mockConfig, token)
        yield* awaitReady(daemon.url, ["mock-a"])
        const engines = childPids(daemon.pid)
        expect(engines).toHaveLength(1)

        // every line it logs from here on fails with EPIPE: it used to end the process at once,
        // before its shutdown stopped the engine
        yield* daemon.closeOutput
        yield* daemon.signal("SIGTERM")
        expect(yield* daemon.exit).toEqual({ _tag: "Exited", code: 0 })
        yield* Effect.forEach(engines, awaitGone, { discard: true })
      }).pipe(Effect.provide(NodeContext.layer)),
    120_000
  )

  it.scopedLive("a bad config exits with code 2 and names the file and the bad fields", () =>
    Effect.gen(function*() {
      const { file } = yield* writeConfig(`
engines:
  - name: mock
    mock: true
pools:
  - id: mock-a
    engine: mock
    model: tiny
    ctx_max: -5
    ctxMax: 10
`)
      const result = yield* SpawnDaemon.runToExit({ entry, args: ["--config", file, "--port", "0"] })
      expect(result.exit).toEqual({ _tag: "Exited", code: 2 })
      expect(result.stdout).toBe("")
      expect(result.stderr).toContain(`invalid configuration in ${file}`)
      expect(result.stderr).toContain("pools.0.ctx_max")
      expect(result.stderr).toContain("pools.0.ctxMax")
    }).pipe(Effect.provide(NodeContext.layer)), 120_000)

  it.scopedLive(
    "refuses to listen beyond loopback without a token (exit code 2, clear message)",
    () =>
      Effect.gen(function*() {
        const { dir } = yield* writeConfig("")
        const result = yield* SpawnDaemon.runToExit({
          entry,
          args: ["--host", "0.0.0.0", "--port", "0", "--state-dir", `${dir}/state`]
        })
        expect(result.exit).toEqual({ _tag: "Exited", code: 2 })
        expect(result.stdout).toBe("")
        expect(result.stderr).toContain("refusing to listen on 0.0.0.0 without a token")
        expect(result.stderr).toContain("POOL_MANAGERD_TOKEN")
      }).pipe(Effect.provide(NodeContext.layer)),
    120_000
  )
})
