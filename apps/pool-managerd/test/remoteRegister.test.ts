/**
 * What a remote caller may register on a real pool-managerd: nothing by default, and with
 * `allow_remote_register: true` only pools built from the operator's profiles — never an
 * environment (`NODE_OPTIONS=--require <file>` ran the caller's code inside the engine), a port, a
 * field the spec does not know, an argv flag for a model, or sizes above the limits.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { EngineNotAllowed, InvalidSpec, PoolId, PoolSpec, Unauthorized } from "@llama-orch/pool-core"
import { Effect } from "effect"
import { entry, rpcClient, SpawnDaemon, writeConfig } from "./helpers.js"

const token = "remote-register-token"

const config = (extra: string) => `
engines:
  - name: mock
    mock: true
pools:
  - id: configured
    engine: mock
    model: tiny
    preload: false
stop_grace_ms: 2000
shutdown_deadline_ms: 2000
${extra}
`

const startDaemon = (extra: string) =>
  Effect.gen(function*() {
    const { dir, file } = yield* writeConfig(config(extra))
    const daemon = yield* SpawnDaemon.spawnDaemon({
      entry,
      args: ["--config", file, "--port", "0", "--state-dir", `${dir}/state`],
      env: { POOL_MANAGERD_TOKEN: token }
    })
    return { daemon, dir, client: yield* rpcClient(daemon.url, token) }
  })

const spec = (fields: Record<string, unknown>) =>
  PoolSpec.make({ id: PoolId.make("remote"), engine: "mock", model: "tiny", preload: false, ...fields })

/** One raw NDJSON `Register` call, as any HTTP client could send it. */
const rawRegister = (url: string, payload: unknown) =>
  Effect.promise(() =>
    fetch(`${url}/rpc`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/ndjson" },
      body: JSON.stringify({ _tag: "Request", id: "1", tag: "Register", payload, headers: [] }) + "\n"
    }).then((response) => response.text())
  )

describe("remote Register", () => {
  it.scopedLive(
    "is refused by default, and so is Remove, with a typed error that says how to allow it",
    () =>
      Effect.gen(function*() {
        const { client } = yield* startDaemon("")
        const refused = yield* Effect.flip(client.Register(spec({})))
        expect(refused).toBeInstanceOf(Unauthorized)
        expect(refused.message).toContain("allow_remote_register")
        expect(yield* Effect.flip(client.Remove({ poolId: PoolId.make("configured") }))).toBeInstanceOf(Unauthorized)
        expect((yield* client.List()).map((p) => p.poolId)).toEqual(["configured"])
      }).pipe(Effect.provide(NodeContext.layer)),
    { timeout: 60_000 }
  )

  it.scopedLive("never runs the caller's code through the engine's environment", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { client, dir } = yield* startDaemon("allow_remote_register: true")
      const marker = `${dir}/pwned`
      const payload = `${dir}/payload.cjs`
      yield* fs.writeFileString(payload, `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran")\n`)
      for (const env of [{ NODE_OPTIONS: `--require ${payload}` }, { LD_PRELOAD: `${dir}/x.so` }, { PATH: dir }]) {
        const refused = yield* Effect.flip(client.Register(spec({ env })))
        expect(refused).toBeInstanceOf(InvalidSpec)
        expect(refused.message).toContain("env")
      }
      // nothing was registered, the operator's pool still starts, and nothing ran the payload
      const pools = yield* client.List()
      expect(pools.map((p) => p.poolId)).toEqual(["configured"])
      yield* client.Preload({ poolId: PoolId.make("configured") })
      expect(yield* fs.exists(marker)).toBe(false)
    }).pipe(Effect.provide(NodeContext.layer)), { timeout: 60_000 })

  it.scopedLive(
    "refuses fields it does not know, ports, flags as models and sizes above the limits",
    () =>
      Effect.gen(function*() {
        const { client, daemon } = yield* startDaemon(
          "allow_remote_register: true\nremote_register_limits: { max_slots: 4, max_ctx: 8192 }"
        )
        const refusals = [
          spec({ port: 8080 }),
          spec({ slots: 5 }),
          spec({ ctxMax: 16384 }),
          spec({ startupTimeoutMs: 3_600_000 })
        ]
        for (const s of refusals) expect(yield* Effect.flip(client.Register(s))).toBeInstanceOf(InvalidSpec)
        expect(yield* Effect.flip(client.Register(spec({ engine: "sh" })))).toBeInstanceOf(EngineNotAllowed)

        // raw requests: an unknown field (what a caller might hope reaches the spawn), a flag as model
        for (
          const payload of [
            { id: "raw", engine: "mock", model: "tiny", cwd: "/" },
            { id: "raw", engine: "mock", model: "tiny", command: "/bin/sh" },
            { id: "raw", engine: "mock", model: "--rpc-server" },
            "not a spec"
          ]
        ) {
          const answer = yield* rawRegister(daemon.url, payload)
          expect(answer).toContain(`"_tag":"InvalidSpec"`)
          expect(answer).not.toContain("Defect")
        }
        expect((yield* client.List()).map((p) => p.poolId)).toEqual(["configured"])

        // what the operator allows still registers, and may be removed again
        const status = yield* client.Register(spec({ slots: 4, ctxMax: 8192, deviceMask: "0" }))
        expect(status.poolId).toBe("remote")
        yield* client.Remove({ poolId: PoolId.make("remote") })
      }).pipe(Effect.provide(NodeContext.layer)),
    { timeout: 60_000 }
  )
})
