/**
 * pool-managerd and its state directory and engines, as real processes: a second daemon on the same
 * directory refuses to start (it would have reaped the first one's engines), and engines get a clean
 * environment — none of the daemon's secrets.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { PoolId } from "@llama-orch/pool-core"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { alive, awaitReady, entry, rpcClient, SpawnDaemon, writeConfig } from "./helpers.js"

const token = "state-dir-token"

const config = `
engines: [{ name: mock, mock: true }]
pools: [{ id: solo, engine: mock, model: tiny }]
stop_grace_ms: 2000
shutdown_deadline_ms: 2000
`

describe("pool-managerd's state directory and engines", () => {
  it.scopedLive(
    "a second daemon on the same state directory exits 2 and leaves the first one's engines alone",
    () =>
      Effect.gen(function*() {
        const { dir, file } = yield* writeConfig(config)
        const args = ["--config", file, "--port", "0", "--state-dir", `${dir}/state`]
        const first = yield* SpawnDaemon.spawnDaemon({ entry, args, env: { POOL_MANAGERD_TOKEN: token } })
        yield* awaitReady(first.url, ["solo"])
        const client = yield* rpcClient(first.url, token)
        const engine = (yield* client.Status({ poolId: PoolId.make("solo") })).handoff?.pid ?? 0

        const second = yield* SpawnDaemon.runToExit({ entry, args, env: { POOL_MANAGERD_TOKEN: token } })
        expect(second.exit).toEqual({ _tag: "Exited", code: 2 })
        expect(second.stderr).toContain(`refusing the state directory ${dir}/state`)
        expect(second.stderr).toContain(`another pool manager (pid ${first.pid}) uses it`)
        expect(alive(engine)).toBe(true)
        expect((yield* client.Status({ poolId: PoolId.make("solo") })).ready).toBe(true)
      }).pipe(Effect.provide(NodeContext.layer)),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "engines inherit none of the daemon's secrets, only a minimal base and their profile's variables",
    () =>
      Effect.gen(function*() {
        const { dir, file } = yield* writeConfig(config)
        const daemon = yield* SpawnDaemon.spawnDaemon({
          entry,
          args: ["--config", file, "--port", "0", "--state-dir", `${dir}/state`],
          env: {
            POOL_MANAGERD_TOKEN: token,
            ORCHESTRATORD_TOKEN: "other-secret",
            SOME_DAEMON_SETTING: "x",
            LANG: "C.UTF-8"
          }
        })
        yield* awaitReady(daemon.url, ["solo"])
        const client = yield* rpcClient(daemon.url, token)
        const engine = (yield* client.Status({ poolId: PoolId.make("solo") })).handoff?.pid ?? 0
        const environ = readFileSync(`/proc/${engine}/environ`, "utf8").split("\u0000").filter((e) => e !== "")
        const names = environ.map((entry) => entry.slice(0, entry.indexOf("=")))
        expect(environ.join("\n")).not.toContain(token)
        expect(environ.join("\n")).not.toContain("other-secret")
        expect(names).not.toContain("SOME_DAEMON_SETTING")
        expect(names).toEqual(expect.arrayContaining(["PATH", "LANG", "LLAMA_ORCH_ENGINE", "LLAMA_API_KEY"]))
      }).pipe(Effect.provide(NodeContext.layer)),
    { timeout: 60_000 }
  )
})
