/**
 * Config reload of a real orchestratord with embedded mock pools: a generation streaming from pool
 * a runs on while pool b's engine args change and b restarts (a's engine untouched), a pool is
 * added, a changed port is reported and not applied, every step is a pool event; an invalid file
 * sent by SIGHUP changes nothing, a valid one removes a pool, as the admin call would.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { Context, Effect, Fiber, Layer, Option, Schedule } from "effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { childPids, privateStateHome, waitOk } from "./fixtures/processes.js"
import { readSse } from "./fixtures/sse.js"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const entry = fileURLToPath(new URL("../src/bin.ts", import.meta.url))
const token = "reload-secret"
const auth = { authorization: `Bearer ${token}` }

const config = (options: { readonly bArgs: string; readonly extra?: string; readonly port?: number }) => `
token: ${token}
${options.port === undefined ? "" : `port: ${options.port}`}
engines:
  - { name: steady, mock: true, args: ["--tps", "40"] }
  - { name: edited, mock: true, args: [${options.bArgs}] }
pools:
  - { id: a, engine: steady, model: model-a, slots: 2 }
  - { id: b, engine: edited, model: model-b }
${options.extra ?? ""}
`

class Daemon extends Context.Tag("test/Daemon")<Daemon, {
  readonly daemon: SpawnDaemon.RunningDaemon
  readonly file: string
}>() {}

const DaemonLive = Layer.scoped(
  Daemon,
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "orchestratord-reload-" })
    const file = `${dir}/orchestratord.yaml`
    yield* fs.writeFileString(file, config({ bArgs: `"--tps", "200"` }))
    const daemon = yield* SpawnDaemon.spawnDaemon({
      entry,
      args: ["--config", file, "--port", "0"],
      env: yield* privateStateHome,
      cwd: root,
      startTimeout: "120 seconds"
    })
    yield* waitOk(`${daemon.url}/ready`)
    return { daemon, file }
  })
).pipe(Layer.provide(NodeContext.layer))

const edit = (file: string, yaml: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.writeFileString(file, yaml))

/** The engine process serving `model` under the daemon (0 when none). */
const enginePid = (daemonPid: number, model: string): number =>
  childPids(daemonPid).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").includes(`--model ${model} `)
    } catch {
      return false
    }
  }) ?? 0

const fetchText = (url: string, init: RequestInit = {}) =>
  Effect.promise(() => fetch(url, init).then(async (r) => ({ status: r.status, text: await r.text() })))

const reloadCall = (url: string) => fetchText(`${url}/v2/admin/reload-config`, { method: "POST", headers: auth })

const poolIds = (url: string) =>
  Effect.map(
    fetchText(`${url}/v2/pools`, { headers: auth }),
    ({ text }) =>
      (JSON.parse(text) as { pools: ReadonlyArray<{ pool_id: string; state: string }> }).pools.map((p) =>
        `${p.pool_id}:${p.state}`
      )
  )

const metric = (text: string, series: string) =>
  Number(text.split("\n").find((line) => line.startsWith(`${series} `))?.slice(series.length + 1))

layer(DaemonLive, { excludeTestServices: true, timeout: 180_000 })("orchestratord config reload", (it) => {
  it.scoped("a stream on pool a runs on while pool b's args change and b restarts; c is added; port is reported", () =>
    Effect.gen(function*() {
      const { daemon, file } = yield* Daemon
      const aBefore = enginePid(daemon.pid, "model-a")
      const bBefore = enginePid(daemon.pid, "model-b")
      expect(aBefore).toBeGreaterThan(0)
      expect(bBefore).toBeGreaterThan(0)
      // the pool events, until c is Ready
      const events = yield* Effect.promise(() =>
        fetch(`${daemon.url}/v2/pools/events`, { headers: auth }).then((response) =>
          readSse(
            response,
            (seen) => seen.some((e) => e.data.includes(`"reason":"ready"`) && e.data.includes(`"pool_id":"c"`))
          )
        )
      ).pipe(Effect.fork)
      // 280 tokens at 40 per second: seven seconds of streaming from a's engine
      const stream = yield* fetchText(`${daemon.url}/v1/completions`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ model: "model-a", prompt: "hi", max_tokens: 280, stream: true })
      }).pipe(Effect.fork)

      yield* edit(
        file,
        config({ bArgs: `"--tps", "300"`, port: 9999, extra: "  - { id: c, engine: steady, model: model-c }" })
      )
      const reload = yield* reloadCall(daemon.url)
      expect(reload.status).toBe(200)
      expect(JSON.parse(reload.text)).toMatchObject({
        result: "applied",
        plan: {
          pools: [
            { pool_id: "b", action: "restart", changes: ["engine.args"] },
            { pool_id: "c", action: "add", changes: [] },
            { pool_id: "a", action: "unchanged", changes: [] }
          ],
          restart_required: ["port"]
        },
        steps: [
          { pool_id: "b", action: "restart", outcome: "done" },
          { pool_id: "c", action: "add", outcome: "done" }
        ]
      })
      // a's generation is still streaming, from the same engine
      expect(Option.isNone(yield* Fiber.poll(stream))).toBe(true)
      expect(enginePid(daemon.pid, "model-a")).toBe(aBefore)
      expect(enginePid(daemon.pid, "model-b")).not.toBe(bBefore)
      // the new engine runs the edited args
      expect(readFileSync(`/proc/${enginePid(daemon.pid, "model-b")}/cmdline`, "utf8").split("\0").join(" "))
        .toContain("--tps 300")
      expect(yield* poolIds(daemon.url)).toEqual(["a:Ready", "b:Ready", "c:Ready"])
      const streamed = yield* Fiber.join(stream)
      expect(streamed.status).toBe(200)
      expect(streamed.text).toContain(`"finish_reason":"length"`)
      expect(streamed.text.trimEnd().endsWith("data: [DONE]")).toBe(true)
      expect(enginePid(daemon.pid, "model-a")).toBe(aBefore)
      // every step was a pool event
      const reasons = (yield* Fiber.join(events)).events.flatMap((e) => {
        const data = JSON.parse(e.data) as { reason?: string; pool?: { pool_id: string } }
        return data.reason?.startsWith("config-reload") === true ? [`${data.pool?.pool_id} ${data.reason}`] : []
      })
      expect(reasons).toEqual(["b config-reload-restart", "c config-reload-add"])
      // the port is not applied: the daemon still answers where it did
      expect((yield* fetchText(`${daemon.url}/health`)).status).toBe(200)
      expect(yield* daemon.stderr).toContain("needs a restart to apply: port")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("SIGHUP: an invalid file changes nothing and says why; a valid one removes a pool", () =>
    Effect.gen(function*() {
      const { daemon, file } = yield* Daemon
      const pids = () => ["model-a", "model-b", "model-c"].map((model) => enginePid(daemon.pid, model))
      const before = pids()
      yield* edit(file, config({ bArgs: `"--tps", "300"`, port: 9999, extra: "  - { id: c, engine: none, model: m }" }))
      yield* daemon.signal("SIGHUP")
      const invalid = `orchestratord_config_reloads_total{result="invalid"}`
      const metrics = yield* fetchText(`${daemon.url}/metrics`).pipe(
        Effect.filterOrFail(({ text }) => metric(text, invalid) === 1),
        Effect.retry(Schedule.spaced("50 millis"))
      )
      expect(metric(metrics.text, `orchestratord_config_reloads_total{result="applied"}`)).toBe(1)
      expect(metric(metrics.text, "orchestratord_config_last_reload_success_timestamp_seconds")).toBeGreaterThan(1.7e9)
      expect(yield* daemon.stderr).toContain("Configuration reload refused; nothing changed. invalid configuration in")
      expect(yield* daemon.stderr).toContain("pools.2.engine: no engine named")
      expect(pids()).toEqual(before)
      expect(yield* poolIds(daemon.url)).toEqual(["a:Ready", "b:Ready", "c:Ready"])

      yield* edit(file, config({ bArgs: `"--tps", "300"`, port: 9999 }))
      yield* daemon.signal("SIGHUP")
      yield* poolIds(daemon.url).pipe(
        Effect.filterOrFail((ids) => ids.length === 2),
        Effect.retry(Schedule.spaced("50 millis"))
      )
      expect(yield* poolIds(daemon.url)).toEqual(["a:Ready", "b:Ready"])
      expect(pids().slice(0, 2)).toEqual(before.slice(0, 2))
      expect(yield* daemon.stderr).toContain("Configuration reload plan: c: remove; a: unchanged; b: unchanged")
      // the admin call needs the token
      expect((yield* fetchText(`${daemon.url}/v2/admin/reload-config`, { method: "POST" })).status).toBe(401)
    }).pipe(Effect.provide(NodeContext.layer)))
})
