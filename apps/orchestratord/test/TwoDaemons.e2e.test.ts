/**
 * The two-daemon setup as separate processes: pool-managerd owns the engines, orchestratord talks
 * to it over RPC. Tasks stream, the control plane reaches pool-managerd, a pool-managerd outage is a
 * 503 POOL_UNAVAILABLE that heals without restarting orchestratord, and SIGTERM stops both cleanly.
 */
import { FileSystem } from "@effect/platform"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, expect, it } from "@effect/vitest"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { Effect, Schedule } from "effect"
import { fileURLToPath } from "node:url"
import { scrapeConformant } from "./fixtures/metrics.js"
import { childPids, isAlive, waitGone, waitOk } from "./fixtures/processes.js"
import { readSse } from "./fixtures/sse.js"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const orchestratord = fileURLToPath(new URL("../src/bin.ts", import.meta.url))
const poolManagerd = fileURLToPath(new URL("../../pool-managerd/src/bin.ts", import.meta.url))
const env = { POOL_MANAGERD_TOKEN: "two-daemons-secret" }

const poolManagerdConfig = (stateDir: string) =>
  [
    `state_dir: ${JSON.stringify(stateDir)}`,
    "shutdown_deadline_ms: 2000",
    "stop_grace_ms: 2000",
    "engines:",
    "  - name: mock",
    "    mock: true",
    "    args: [\"--tps\", \"200\"]",
    "pools:",
    "  - id: gpu-0",
    "    engine: mock",
    "    model: mock-model",
    "    slots: 4"
  ].join("\n")

const json = (url: string, init?: RequestInit) =>
  Effect.promise(async (): Promise<{ status: number; headers: Headers; body: unknown }> => {
    const response = await fetch(url, init)
    const text = await response.text()
    return { status: response.status, headers: response.headers, body: text === "" ? undefined : JSON.parse(text) }
  })

const post = (url: string, body: unknown) =>
  json(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })

const runTask = (url: string, model: string) =>
  Effect.gen(function*() {
    const accepted = yield* post(`${url}/v2/tasks`, { model_ref: model, prompt: "hi", max_tokens: 4 })
    expect(accepted.status).toBe(202)
    const body = accepted.body
    assert(typeof body === "object" && body !== null && "task_id" in body)
    const response = yield* Effect.promise(() => fetch(`${url}/v2/tasks/${String(body.task_id)}/events`))
    const { events } = yield* Effect.promise(() => readSse(response))
    expect(events.map((e) => e.event === "token" ? "token" : `${e.event} ${e.data}`)).toEqual([
      expect.stringMatching(/^started /),
      ...events.filter((e) => e.event === "metrics").map(() => expect.stringMatching(/^metrics /)),
      "token",
      "token",
      "token",
      "token",
      expect.stringMatching(/^end /)
    ])
  })

const poolField = (url: string, poolId: string) => Effect.map(json(`${url}/v2/pools/${poolId}/health`), (r) => r.body)

it.scopedLive("orchestratord (remote) and pool-managerd as two processes", () =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "two-daemons-" })
    yield* fs.writeFileString(`${dir}/pool-managerd.yaml`, poolManagerdConfig(`${dir}/state`))
    const startPoolManagerd = (port: number) =>
      SpawnDaemon.spawnDaemon({
        entry: poolManagerd,
        args: ["--config", `${dir}/pool-managerd.yaml`, "--port", String(port)],
        cwd: root,
        env,
        startTimeout: "120 seconds"
      })
    const pm1 = yield* startPoolManagerd(0)
    const pmPort = Number(new URL(pm1.url).port)
    yield* fs.writeFileString(
      `${dir}/orchestratord.yaml`,
      [`pool_manager:`, `  url: ${pm1.url}`, `queue:`, `  policy: reject`].join("\n")
    )
    const orch = yield* SpawnDaemon.spawnDaemon({
      entry: orchestratord,
      args: ["--config", `${dir}/orchestratord.yaml`, "--port", "0"],
      cwd: root,
      env,
      startTimeout: "120 seconds"
    })
    yield* waitOk(`${orch.url}/ready`)
    // orchestratord runs no engine itself
    expect(childPids(orch.pid)).toEqual([])
    const engines1 = childPids(pm1.pid)
    expect(engines1.length).toBeGreaterThan(0)

    // tasks stream through the remote pool
    yield* runTask(orch.url, "mock-model")
    // each daemon's /metrics passes promtool under its own prefix: the pools are pool-managerd's alone
    const orchMetrics = yield* scrapeConformant(orch.url, ["orchestratord_"])
    expect(
      orchMetrics.value("orchestratord_tasks_started_total", `{pool_id="gpu-0",engine="mock",priority="interactive"}`)
    )
      .toBe(1)
    expect(orchMetrics.value("orchestratord_tasks_started_total", `{pool_id="gpu-0",engine="mock",priority="batch"}`))
      .toBe(0)
    const pmMetrics = yield* scrapeConformant(pm1.url, ["pool_managerd_"])
    expect(pmMetrics.value("pool_managerd_pool_restarts_total", `{pool_id="gpu-0",engine="mock"}`)).toBe(0)

    // reload through the control plane reaches pool-managerd
    const reload = yield* post(`${orch.url}/v2/pools/gpu-0/reload`, { model_ref: "mock-model-b", strategy: "surge" })
    expect(reload.status).toBe(200)
    expect(reload.body).toMatchObject({ pool_id: "gpu-0", from_model: "mock-model", to_model: "mock-model-b" })
    const pmStatus = yield* json(`${pm1.url}/health`, {
      headers: { authorization: `Bearer ${env.POOL_MANAGERD_TOKEN}` }
    })
    expect(JSON.stringify(pmStatus.body)).toContain("gpu-0")
    yield* runTask(orch.url, "mock-model-b")

    // pool-managerd goes away: 503 POOL_UNAVAILABLE with the backoff headers
    yield* pm1.signal("SIGTERM")
    expect(yield* pm1.exit.pipe(Effect.timeout("60 seconds"))).toEqual({ _tag: "Exited", code: 0 })
    yield* waitGone(childPids(pm1.pid).concat(engines1))
    const down = yield* post(`${orch.url}/v2/tasks`, { model_ref: "mock-model-b", prompt: "hi", max_tokens: 2 })
    expect(down.status).toBe(503)
    expect(down.body).toMatchObject({ code: "POOL_UNAVAILABLE", retriable: true, retry_after_ms: expect.any(Number) })
    expect(Number(down.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
    expect(down.headers.get("x-backoff-ms")).toMatch(/^\d+$/)
    const pools = yield* json(`${orch.url}/v2/pools`)
    expect(pools.status).toBe(503)
    expect(pools.body).toMatchObject({ code: "POOL_UNAVAILABLE" })

    // it comes back on the same port: orchestratord recovers without a restart
    const pm2 = yield* startPoolManagerd(pmPort)
    yield* waitOk(`${orch.url}/ready`)
    // the orchestrator's own view of the pools follows pool-managerd's event stream, which
    // reconnects with a fresh snapshot: allow it a few seconds to catch up
    yield* runTask(orch.url, "mock-model").pipe(
      Effect.sandbox,
      Effect.retry(Schedule.spaced("500 millis").pipe(Schedule.upTo("15 seconds"))),
      Effect.unsandbox
    )

    // drain through the control plane: 202 at once, then the pool stops in pool-managerd
    const drain = yield* post(`${orch.url}/v2/pools/gpu-0/drain`, { deadline_ms: 1000 })
    expect(drain.status).toBe(202)
    yield* poolField(orch.url, "gpu-0").pipe(
      Effect.filterOrFail(
        (h) => typeof h === "object" && h !== null && "state" in h && h.state === "Stopped",
        () => "not stopped yet"
      ),
      Effect.retry(Schedule.spaced("200 millis")),
      Effect.timeout("30 seconds")
    )

    // SIGTERM to both: both exit 0 and no engine is left
    const engines2 = childPids(pm2.pid)
    yield* orch.signal("SIGTERM")
    yield* pm2.signal("SIGTERM")
    expect(yield* orch.exit.pipe(Effect.timeout("60 seconds"))).toEqual({ _tag: "Exited", code: 0 })
    expect(yield* pm2.exit.pipe(Effect.timeout("60 seconds"))).toEqual({ _tag: "Exited", code: 0 })
    yield* waitGone(engines2)
    expect([orch.pid, pm1.pid, pm2.pid, ...engines1, ...engines2].filter(isAlive)).toEqual([])
  }).pipe(Effect.provide(NodeContext.layer)), 300_000)
