/**
 * Config reload of a real pool-managerd with mock engines: only what the edit changed restarts,
 * an invalid edit changes nothing, a removed pool with a lease is drained, and SIGHUP does what
 * `POST /admin/reload-config` does.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Lease, PoolId } from "@llama-orch/pool-core"
import { Context, Deferred, Duration, Effect, Fiber, Layer, Option, Redacted, Schedule, Stream } from "effect"
import { readFileSync } from "node:fs"
import { entry, getText, rpcClient, SpawnDaemon, writeConfig } from "./helpers.js"

const token = "reload-token"

const config = (options: { readonly bArgs: string; readonly pools?: string }) => `
engines:
  - { name: steady, mock: true, args: ["--tps", "40"] }
  - { name: edited, mock: true, args: [${options.bArgs}] }
pools:
  - { id: a, engine: steady, model: tiny, slots: 2 }
  - { id: b, engine: edited, model: tiny }
${options.pools ?? "  - { id: c, engine: steady, model: tiny }"}
`

class Daemon extends Context.Tag("test/Daemon")<Daemon, {
  readonly daemon: SpawnDaemon.RunningDaemon
  readonly file: string
}>() {}

const DaemonLive = Layer.scoped(
  Daemon,
  Effect.gen(function*() {
    const { dir, file } = yield* writeConfig(config({ bArgs: `"--tps", "200"` }))
    const daemon = yield* SpawnDaemon.spawnDaemon({
      entry,
      args: ["--config", file, "--port", "0", "--state-dir", `${dir}/state`],
      env: { POOL_MANAGERD_TOKEN: token }
    })
    return { daemon, file }
  })
).pipe(Layer.provide(NodeContext.layer))

const reloadCall = (url: string, bearer = token) =>
  Effect.promise(() =>
    fetch(`${url}/admin/reload-config`, { method: "POST", headers: { authorization: `Bearer ${bearer}` } })
      .then(async (response) => ({ status: response.status, body: await response.json() as unknown }))
  )

const edit = (file: string, yaml: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.writeFileString(file, yaml))

const metric = (text: string, series: string) =>
  Number(text.split("\n").find((line) => line.startsWith(`${series} `))?.slice(series.length + 1))

/** Each pool's engine pid (0 when none). */
const pids = (url: string) =>
  Effect.gen(function*() {
    const client = yield* rpcClient(url, token)
    const statuses = yield* client.List()
    return Object.fromEntries(statuses.map((s) => [s.poolId, s.handoff?.pid ?? 0]))
  })

const awaitReady = (url: string, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const client = yield* rpcClient(url, token)
    yield* Effect.forEach(ids, (id) => client.Preload({ poolId: PoolId.make(id) }), { discard: true })
  })

const takeLease = (url: string, poolId: string) =>
  Effect.gen(function*() {
    const client = yield* rpcClient(url, token)
    const granted = yield* Deferred.make<Lease, unknown>()
    const held = yield* client.Lease({ poolId: PoolId.make(poolId) }).pipe(
      Stream.runForEach((frame) => frame instanceof Lease ? Deferred.succeed(granted, frame) : Effect.void),
      Effect.catchAll((error) => Deferred.fail(granted, error)),
      Effect.forkScoped
    )
    return { lease: yield* Deferred.await(granted), release: Fiber.interrupt(held) }
  })

layer(DaemonLive, { excludeTestServices: true, timeout: 120_000 })("pool-managerd config reload", (it) => {
  it.scoped("a stream on pool a runs on while pool b's engine args change and b restarts", () =>
    Effect.gen(function*() {
      const { daemon, file } = yield* Daemon
      yield* awaitReady(daemon.url, ["a", "b", "c"])
      const before = yield* pids(daemon.url)
      // 240 tokens at 40 per second: six seconds of streaming from a's engine
      const { lease } = yield* takeLease(daemon.url, "a")
      const stream = yield* Effect.promise(() =>
        fetch(`${lease.url}/completion`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${lease.apiKey === undefined ? "" : Redacted.value(lease.apiKey)}`
          },
          body: JSON.stringify({ prompt: "hi", n_predict: 240, stream: true })
        }).then((response) => response.text())
      ).pipe(Effect.fork)

      yield* edit(file, config({ bArgs: `"--tps", "300"` }))
      const reload = yield* reloadCall(daemon.url)
      expect(reload.status).toBe(200)
      expect(reload.body).toMatchObject({
        result: "applied",
        plan: {
          pools: [
            { pool_id: "b", action: "restart", changes: ["engine.args"] },
            { pool_id: "a", action: "unchanged", changes: [] },
            { pool_id: "c", action: "unchanged", changes: [] }
          ],
          restart_required: []
        },
        steps: [{ pool_id: "b", action: "restart", outcome: "done" }]
      })
      // b is back, on a new engine; a was never touched and its stream is still running
      expect(Option.isNone(yield* Fiber.poll(stream))).toBe(true)
      const after = yield* pids(daemon.url)
      expect(after["a"]).toBe(before["a"])
      expect(after["c"]).toBe(before["c"])
      expect(after["b"]).not.toBe(before["b"])
      expect(after["b"]).toBeGreaterThan(0)
      // the new engine runs the edited args
      expect(readFileSync(`/proc/${after["b"]}/cmdline`, "utf8").split("\0").join(" ")).toContain("--tps 300")
      const text = yield* Fiber.join(stream)
      expect(text).toContain(`"stop":true`)
      expect((yield* pids(daemon.url))["a"]).toBe(before["a"])
      const logs = yield* daemon.stderr
      expect(logs).toContain("Configuration reload plan: b: restart (engine.args); a: unchanged; c: unchanged.")
      expect(logs).toContain("Configuration reload step b: restart (engine.args): done in")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("an invalid edit changes nothing and says why, in the response, the log and the metric", () =>
    Effect.gen(function*() {
      const { daemon, file } = yield* Daemon
      const before = yield* pids(daemon.url)
      yield* edit(file, config({ bArgs: `"--tps", "10"`, pools: "  - { id: c, engine: nowhere, model: tiny }" }))
      const refused = yield* reloadCall(daemon.url)
      expect(refused).toEqual({
        status: 422,
        body: {
          error: {
            code: "CONFIG_INVALID",
            message:
              `invalid configuration in ${file}:\n  pools.2.engine: no engine named "nowhere" (configured: steady, edited)`,
            issues: [{ path: "pools.2.engine", message: `no engine named "nowhere" (configured: steady, edited)` }]
          }
        }
      })
      expect(yield* pids(daemon.url)).toEqual(before)
      const metrics = yield* getText(`${daemon.url}/metrics`)
      expect(metric(metrics, `pool_managerd_config_reloads_total{result="invalid"}`)).toBe(1)
      expect(metric(metrics, `pool_managerd_config_reloads_total{result="applied"}`)).toBe(1)
      expect(metric(metrics, "pool_managerd_config_last_reload_success_timestamp_seconds")).toBeGreaterThan(1.7e9)
      expect(yield* daemon.stderr).toContain("Configuration reload refused; nothing changed.")
      // without the token there is no reload at all
      expect((yield* reloadCall(daemon.url, "wrong")).status).toBe(401)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("SIGHUP reloads as the admin call does: a removed pool with a lease drains, then goes", () =>
    Effect.gen(function*() {
      const { daemon, file } = yield* Daemon
      const client = yield* rpcClient(daemon.url, token)
      yield* awaitReady(daemon.url, ["a", "b", "c"])
      const before = yield* pids(daemon.url)
      const { release } = yield* takeLease(daemon.url, "c")
      yield* edit(file, config({ bArgs: `"--tps", "300"`, pools: "" }))
      yield* daemon.signal("SIGHUP")
      // c drains: it refuses new leases while the one it granted runs on, and its engine serves it
      yield* client.Status({ poolId: PoolId.make("c") }).pipe(
        Effect.flatMap((status) => status.draining ? Effect.void : Effect.fail("not draining yet")),
        Effect.retry(Schedule.spaced(Duration.millis(50)))
      )
      expect((yield* client.Status({ poolId: PoolId.make("c") })).activeLeases).toBe(1)
      yield* release
      yield* client.List().pipe(
        Effect.flatMap((all) => all.some((s) => s.poolId === "c") ? Effect.fail("still there") : Effect.void),
        Effect.retry(Schedule.spaced(Duration.millis(50)))
      )
      const after = yield* pids(daemon.url)
      expect(after).toEqual({ a: before["a"], b: before["b"] })
      expect(SpawnDaemon.isProcessAlive(before["c"] ?? 0)).toBe(false)
      const logs = yield* daemon.stderr
      expect(logs).toContain("SIGHUP: reloading")
      expect(logs).toContain("Configuration reload plan: c: remove; a: unchanged; b: unchanged.")
    }).pipe(Effect.provide(NodeContext.layer)))
})
