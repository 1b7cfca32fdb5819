// Helpers for tests that run pool-managerd as a real process.
import { FileSystem } from "@effect/platform"
import { NodeSocket } from "@effect/platform-node"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import { expect } from "@effect/vitest"
import { Processes, Promtool, SpawnDaemon } from "@llama-orch/daemon-kit"
import { PoolAuth, PoolRpcs } from "@llama-orch/pool-core"
import { Effect, Layer, Redacted, Schema } from "effect"

export const entry = new URL("../src/bin.ts", import.meta.url).pathname

/** Writes a config file into a fresh temporary directory and returns its path and the directory. */
export const writeConfig = (yaml: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "pool-managerd-test-" })
    const file = `${dir}/pools.yaml`
    yield* fs.writeFileString(file, yaml)
    return { dir, file }
  })

/** Starts pool-managerd with the config `yaml` and `POOL_MANAGERD_TOKEN=token` on a free port. */
export const spawnWithToken = (yaml: string, token: string) =>
  Effect.gen(function*() {
    const { dir, file } = yield* writeConfig(yaml)
    return yield* SpawnDaemon.spawnDaemon({
      entry,
      args: ["--config", file, "--port", "0", "--state-dir", `${dir}/state`],
      env: { POOL_MANAGERD_TOKEN: token }
    })
  })

/**
 * A `PoolRpcs` client over HTTP + NDJSON (or WebSocket), authenticating with `token`. The protocol
 * lives in the caller's scope (a WebSocket stays open until the scope closes).
 */
export const rpcClient = (url: string, token: string | undefined, protocol: "http" | "websocket" = "http") =>
  Effect.gen(function*() {
    const secret = token === undefined ? undefined : Redacted.make(token)
    const transport = protocol === "http"
      ? RpcClient.layerProtocolHttp({ url: `${url}/rpc`, transformClient: PoolAuth.httpClientAuth(secret) }).pipe(
        Layer.provide(FetchHttpClient.layer)
      )
      : RpcClient.layerProtocolSocket().pipe(
        Layer.provide(NodeSocket.layerWebSocket(`${url.replace(/^http/, "ws")}/rpc`))
      )
    const context = yield* Layer.build(
      Layer.merge(
        transport.pipe(Layer.provide(RpcSerialization.layerNdjson)),
        PoolAuth.layerClient(secret)
      )
    )
    return yield* RpcClient.make(PoolRpcs).pipe(Effect.provide(context))
  })

const HealthBody = Schema.Struct({
  pools: Schema.Array(Schema.Struct({ pool_id: Schema.String, state: Schema.String, ready: Schema.Boolean }))
})

export const getText = (url: string) => Effect.promise(() => fetch(url).then((r) => r.text()))

/** Polls `/health` until every listed pool is Ready (real time; engines are real processes). */
export const awaitReady = (url: string, poolIds: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const body = yield* Effect.promise(() => fetch(`${url}/health`).then((r) => r.json()))
    const health = yield* Schema.decodeUnknown(HealthBody)(body)
    const ready = poolIds.every((id) => health.pools.some((p) => p.pool_id === id && p.ready))
    if (!ready) return yield* Effect.fail(`not ready yet: ${JSON.stringify(health.pools)}`)
    return health
  }).pipe((check) => Processes.waitFor(check, { interval: "250 millis", timeout: "120 seconds" }))

export const alive = Processes.isAlive

/** The child processes of a daemon (its engines). */
export const childPids = Processes.childPids

/** Waits (real time) until the process is gone. */
export const awaitGone = (pid: number) => Processes.awaitGone(pid, { interval: "100 millis" })

/**
 * `promtool check metrics` finds nothing in pool-managerd's `/metrics`, and every family is named
 * `pool_managerd_*` (or is a process or Node.js runtime metric) with its HELP, counters and only
 * they end in `_total`, and durations are in seconds.
 */
export const expectConformant = (text: string) =>
  Effect.map(
    Promtool.lint(text, { prefixes: ["pool_managerd_", "process_", "nodejs_"] }),
    (result) => expect(result).toEqual({ exitCode: 0, output: "", problems: [] })
  )

export { SpawnDaemon }
