/**
 * The daemons started the way their units start them: the `ExecStart=` arguments, the environment,
 * the state and cache directories and the credentials systemd would pass, laid out under a
 * temporary directory standing for `/` (the daemons run as this user, without the sandbox).
 *
 * - A loopback host with no token in the credential store: both start (a missing credential does
 *   not stop them), their state lands in the units' state directories, and engines get the units'
 *   writable cache as HOME, XDG_CACHE_HOME and HF_HOME.
 * - Two daemons on one host sharing /etc/credstore: each requires its token, and orchestratord
 *   reaches pool-managerd with the pool-managerd.token credential.
 */
import { FileSystem } from "@effect/platform"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, it } from "@effect/vitest"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { Effect, Schedule } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { childPids, waitOk } from "../../apps/orchestratord/test/fixtures/processes.js"
import { appCommand, prepareService, readUnit } from "./units.js"

const poolManagerdYaml = [
  "port: 0",
  "shutdown_deadline_ms: 2000",
  "stop_grace_ms: 2000",
  "engines:",
  "  - { name: mock, mock: true }",
  "pools:",
  "  - { id: gpu-0, engine: mock, model: mock-model, slots: 2 }"
].join("\n")

/** Starts `app` from its unit under `root`, with `yaml` as the configuration file the unit names. */
const startFromUnit = (app: "pool-managerd" | "orchestratord", root: string, yaml: string) =>
  Effect.gen(function*() {
    const start = prepareService(readUnit(`${app}.service`), root)
    const command = appCommand(app)
    expect(start.command).toBe(command.name)
    const config = start.args[start.args.indexOf("--config") + 1]
    if (config === undefined || !config.startsWith(root)) return yield* Effect.die(`${app}: no --config under ${root}`)
    fs.mkdirSync(path.dirname(config), { recursive: true })
    fs.writeFileSync(config, yaml)
    // systemd starts services in / (here: the root), with the unit's environment added
    return yield* SpawnDaemon.spawnDaemon({
      entry: command.entry,
      args: start.args,
      env: start.env,
      cwd: root,
      startTimeout: "120 seconds"
    })
  })

/** A fresh directory standing for `/`, with `credstore` written to /etc/credstore (mode 0600). */
const hostRoot = (credstore: Record<string, string>) =>
  Effect.gen(function*() {
    const fileSystem = yield* FileSystem.FileSystem
    const root = yield* fileSystem.makeTempDirectoryScoped({ prefix: "systemd-host-" })
    fs.mkdirSync(path.join(root, "etc/credstore"), { recursive: true, mode: 0o700 })
    for (const [name, secret] of Object.entries(credstore)) {
      fs.writeFileSync(path.join(root, "etc/credstore", name), `${secret}\n`, { mode: 0o600 })
    }
    return root
  })

const status = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    return { status: response.status, text: await response.text() }
  })

/** Polls pool-managerd's /health until every pool is ready (real time: engines are real processes). */
const waitPoolsReady = (url: string) =>
  status(`${url}/health`).pipe(
    Effect.filterOrFail((health) => /"ready":true/.test(health.text) && !/"ready":false/.test(health.text)),
    Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("120 seconds"))),
    Effect.orDie
  )

/** An empty RPC call: 401 before the body is read when a token is required. */
const rpcStatus = (url: string) =>
  status(`${url}/rpc`, { method: "POST", headers: { "content-type": "application/ndjson" }, body: "" })

/** The environment of a process, from /proc. */
const environ = (pid: number): Record<string, string> =>
  Object.fromEntries(
    fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter((kv) => kv.includes("=")).map((kv) => {
      const eq = kv.indexOf("=")
      return [kv.slice(0, eq), kv.slice(eq + 1)]
    })
  )

it.scopedLive(
  "a loopback host without tokens: both units start, state and engine caches land in the units' directories",
  () =>
    Effect.gen(function*() {
      const root = yield* hostRoot({})
      const pm = yield* startFromUnit("pool-managerd", root, poolManagerdYaml)
      yield* waitPoolsReady(pm.url)
      expect((yield* rpcStatus(pm.url)).status).not.toBe(401)
      expect(fs.existsSync(path.join(root, "var/lib/pool-managerd/lock"))).toBe(true)

      const engines = childPids(pm.pid).map((pid) => ({ pid, env: environ(pid) }))
        .filter((p) => p.env.LLAMA_ORCH_ENGINE !== undefined)
      expect(engines).toHaveLength(1)
      const cache = path.join(root, "var/cache/pool-managerd")
      expect(engines[0]?.env).toMatchObject({
        HOME: cache,
        XDG_CACHE_HOME: cache,
        HF_HOME: path.join(cache, "huggingface")
      })
      expect(fs.statSync(cache).isDirectory()).toBe(true)

      const orch = yield* startFromUnit("orchestratord", root, "port: 0\n")
      yield* waitOk(`${orch.url}/ready`)
      const pools = yield* status(`${orch.url}/v2/pools`)
      expect(pools.status).toBe(200)
      expect(pools.text).toContain("mock-0")
      // embedded pools keep their state under StateDirectory=orchestratord, not in a home directory
      expect(fs.existsSync(path.join(root, "var/lib/orchestratord/llama-orch/orchestratord/lock"))).toBe(true)
    }).pipe(Effect.provide(NodeContext.layer)),
  240_000
)

it.scopedLive(
  "two daemons on one host with tokens in /etc/credstore: each requires its own, orchestratord uses pool-managerd's",
  () =>
    Effect.gen(function*() {
      const tokens = { "pool-managerd.token": "pm-credential-secret", "orchestratord.token": "orch-credential-secret" }
      const root = yield* hostRoot(tokens)
      const pm = yield* startFromUnit("pool-managerd", root, poolManagerdYaml)
      yield* waitPoolsReady(pm.url)
      expect((yield* rpcStatus(pm.url)).status).toBe(401)

      const orch = yield* startFromUnit(
        "orchestratord",
        root,
        ["port: 0", "pool_manager:", `  url: ${pm.url}`].join("\n")
      )
      yield* waitOk(`${orch.url}/ready`)
      expect((yield* status(`${orch.url}/v2/pools`)).status).toBe(401)
      const pools = yield* status(`${orch.url}/v2/pools`, {
        headers: { authorization: `Bearer ${tokens["orchestratord.token"]}` }
      })
      expect(pools.status).toBe(200)
      // gpu-0 is pool-managerd's pool: orchestratord listed it over the RPC with its credential
      expect(pools.text).toContain("gpu-0")
      expect(childPids(orch.pid)).toEqual([])
      // nothing of the tokens reaches the engines
      for (const pid of childPids(pm.pid)) {
        expect(Object.values(environ(pid)).join("\n")).not.toContain("credential-secret")
      }
    }).pipe(Effect.provide(NodeContext.layer)),
  240_000
)
