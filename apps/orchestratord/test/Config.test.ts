/**
 * orchestratord's file decoded by Schema onto its settings: the orchestrator's options from
 * `queue`, the server keys, the pools (remote, declared or the mock pool), with every key, default
 * and error message as the daemon has always had them.
 */
import { NodeContext } from "@effect/platform-node"
import * as Path from "@effect/platform/Path"
import { describe, expect, it } from "@effect/vitest"
import { ConfigFile } from "@llama-orch/daemon-kit"
import { OrchestratorOptions } from "@llama-orch/orchestrator-core"
import { ConfigPlan } from "@llama-orch/pool-daemon"
import { ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import * as Config from "../src/Config.js"
import * as ServerSettings from "../src/ServerSettings.js"

const noFlags: Config.Overrides = { host: Option.none(), port: Option.none() }

const env = (vars: Record<string, string>) =>
  Effect.provide(
    Layer.merge(NodeContext.layer, Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(vars)))))
  )

const resolve = (input: unknown, overrides: Config.Overrides = noFlags) =>
  ConfigFile.decodeConfig(Config.ConfigFile, input, "orchestratord.yaml").pipe(
    Effect.flatMap((config) => Config.resolve(config, overrides, "orchestratord.yaml"))
  )

const problems = (input: unknown) =>
  Effect.map(Effect.flip(resolve(input)), (error) => error.issues.map((issue) => `${issue.path}: ${issue.message}`))

const embedded = (settings: Config.Settings) =>
  settings.pools._tag === "Embedded" ? settings.pools.options : expect.unreachable("the pools are remote")

const allKeys =
  `"host" | "port" | "token" | "token_file" | "log_level" | "allowed_hosts" | "allowed_origins" | "max_body_bytes" | "heartbeat_ms" | "openai_default_max_tokens" | "queue" | "pool_manager" | "pool_managers" | "discovery" | "lease_hold_ms" | "state_dir" | "model_dir" | "engine_host" | "shutdown_deadline_ms" | "stop_grace_ms" | "startup_timeout_ms" | "probe_timeout_ms" | "liveness" | "restart" | "engines" | "pools" | "models" | "devices" | "default_idle_ttl_ms" | "default_min_residency_ms" | "cancel_abandoned_loads" | "reload"`

/** orchestratord's own keys and what is wrong with them, word for word (pool-daemon checks the engines and pools). */
const mistakes: ReadonlyArray<readonly [unknown, ReadonlyArray<string>]> = [
  [{ port: 70000 }, ["port: Expected a number between 0 and 65535, actual 70000"]],
  [{ host: "" }, [`host: Expected a non empty string, actual ""`]],
  [{ token: 123456789012 }, ["token: Expected string (the value is not shown: it is a secret)"]],
  [{ token: "a", token_file: "/x" }, ["token: set either token or token_file, not both"]],
  [{ max_body_bytes: 0 }, ["max_body_bytes: Expected a positive number, actual 0"]],
  [{ heartbeat_ms: 0, openai_default_max_tokens: -1 }, [
    "heartbeat_ms: Expected a positive number, actual 0",
    "openai_default_max_tokens: Expected a positive number, actual -1"
  ]],
  [{
    queue: {
      capacity: 0,
      policy: "x",
      first_token_timeout_ms: 0,
      idle_timeout_ms: -1,
      retention_ms: 1.5,
      session_ttl_ms: "x",
      session_max_turns: 0,
      session_token_budget: 0,
      allow_pinning: 1,
      foo: 2
    }
  }, [
    `queue.foo: is unexpected, expected: "capacity" | "policy" | "first_token_timeout_ms" | "idle_timeout_ms" | "retention_ms" | "session_ttl_ms" | "session_max_turns" | "session_token_budget" | "allow_pinning" | "max_load_wait_ms" | "model_aging_ms"`,
    "queue.capacity: Expected a positive number, actual 0",
    `queue.policy: Expected "reject", actual "x" or Expected "drop-lru", actual "x" or Expected "shed-low-priority", actual "x"`,
    "queue.first_token_timeout_ms: Expected a positive number, actual 0",
    "queue.idle_timeout_ms: Expected a positive number, actual -1",
    "queue.retention_ms: Expected an integer, actual 1.5",
    `queue.session_ttl_ms: Expected number, actual "x"`,
    "queue.session_max_turns: Expected a positive number, actual 0",
    "queue.session_token_budget: Expected a positive number, actual 0",
    "queue.allow_pinning: Expected boolean, actual 1"
  ]],
  [{ pool_manager: { url: "ftp://x", token: 5 } }, [
    "pool_manager.url: an http:// or https:// URL",
    "pool_manager.token: Expected string (the value is not shown: it is a secret)"
  ]],
  [{ pool_manager: { url: "http://x", token_file: "" } }, [
    "pool_manager.token_file: Expected a non empty string (the value is not shown: it is a secret)"
  ]],
  [{ pool_manager: { url: "http://x" }, pools: [{ id: "p", engine: "e", model: "m" }] }, [
    "pool_manager: set either pool_manager (remote) or engines and pools (embedded), not both"
  ]],
  [{ pool_manager: { url: "http://x" }, engines: [{ name: "e", command: "x" }] }, [
    "pool_manager: set either pool_manager (remote) or engines and pools (embedded), not both"
  ]],
  [{ pool_managers: [{ name: "a", url: "http://x" }], pools: [{ id: "p", engine: "e", model: "m" }] }, [
    "pool_managers: set either pool_managers (remote) or engines and pools (embedded), not both"
  ]],
  [{ pool_manager: { url: "http://x" }, discovery: { dns: "pm.svc" } }, [
    "pool_manager: set either pool_manager (one node) or pool_managers/discovery (a cluster), not both"
  ]],
  [{ pool_managers: [{ name: "a", url: "http://x" }, { name: "a", url: "http://y" }] }, [
    "pool_managers: node a is named twice"
  ]],
  [{ pool_managers: [{ name: "A b", url: "http://x" }] }, [
    "pool_managers.0.name: a node name is 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
  ]],
  [{ discovery: { dns: "pm.svc", port: 0 } }, [
    "discovery.port: Expected a number between 1 and 65535, actual 0"
  ]],
  [{ discovery: { dns: "pm.svc", servers: ["127.0.0.1:5353", "dns.example", "[::1]:70000", "::1"] } }, [
    `discovery.servers.1: a DNS server is an IP address with an optional port (127.0.0.1:5353, [::1]:53), not "dns.example"`,
    `discovery.servers.2: a DNS server is an IP address with an optional port (127.0.0.1:5353, [::1]:53), not "[::1]:70000"`
  ]],
  [{ lease_hold_ms: 100 }, ["lease_hold_ms: lease_hold_ms applies to a cluster: set pool_managers or discovery"]],
  [{ discovery: { dns: "pm.svc" }, lease_hold_ms: -1 }, [
    "lease_hold_ms: Expected a non-negative number, actual -1"
  ]],
  [{ discovery: { dns: "pm.svc", servers: [] } }, [
    "discovery.servers: Expected an array of at least 1 item(s), actual []"
  ]],
  [{ pools: [{ id: "p", engine: "x", model: "m", ctx_max: 0 }] }, [
    "pools.0.ctx_max: Expected a positive number, actual 0"
  ]],
  [{ pools: [{ id: "p", engine: "nope", model: "m" }] }, [`pools.0.engine: no engine named "nope" (configured: none)`]],
  [{ stateDir: "/x" }, [`stateDir: is unexpected, expected: ${allKeys}`]],
  // pool-managerd's keys for remote callers have no meaning here
  [{ allow_remote_register: true }, [`allow_remote_register: is unexpected, expected: ${allKeys}`]]
]

describe("orchestratord configuration", () => {
  it.effect("no file: loopback on 8080, no token, the orchestrator's and the server's defaults, the mock pool", () =>
    Effect.gen(function*() {
      const settings = yield* Config.load(Option.none(), noFlags)
      expect(settings).toMatchObject({
        host: "127.0.0.1",
        port: 8080,
        token: Option.none(),
        allowedHosts: [],
        allowedOrigins: [],
        maxBodyBytes: ServerSettings.defaults.maxBodyBytes,
        heartbeatMs: ServerSettings.defaults.heartbeatMs,
        openAiDefaultMaxTokens: ServerSettings.defaults.openAiDefaultMaxTokens,
        logLevel: undefined
      })
      expect(settings.orchestrator).toEqual(OrchestratorOptions.make({}))
      const options = embedded(settings)
      expect(options.profiles.map((p) => p.name)).toEqual(["mock"])
      expect(options.profiles[0]?.args.slice(-2)).toEqual(["--tps", "50"])
      expect(options.pools).toEqual(Config.mockPool().pools)
      expect(options.pools[0]).toMatchObject({ id: "mock-0", model: "mock-model", slots: 4, ctxMax: 4096 })
      expect(options.stateDir).toBe(Config.defaultStateDir(yield* Path.Path))
      expect(options.stateDir.endsWith("/llama-orch/orchestratord")).toBe(true)
      expect(options.version).toBe(ServerSettings.apiVersion)
    }).pipe(env({})))

  it.effect("maps the queue section onto OrchestratorOptions and the server keys onto the settings", () =>
    Effect.gen(function*() {
      const settings = yield* resolve({
        host: "127.0.0.2",
        port: 8181,
        log_level: "warning",
        allowed_hosts: ["llm.internal"],
        allowed_origins: ["https://ui.example"],
        max_body_bytes: 2048,
        heartbeat_ms: 500,
        openai_default_max_tokens: 64,
        queue: {
          capacity: 7,
          policy: "drop-lru",
          first_token_timeout_ms: 1000,
          idle_timeout_ms: 2000,
          retention_ms: 3000,
          session_ttl_ms: 4000,
          session_max_turns: 5,
          session_token_budget: 6000,
          allow_pinning: false
        }
      }, { host: Option.none(), port: Option.some(0) })
      expect(settings).toMatchObject({
        host: "127.0.0.2",
        port: 0,
        logLevel: "warning",
        allowedHosts: ["llm.internal"],
        allowedOrigins: ["https://ui.example"],
        maxBodyBytes: 2048,
        heartbeatMs: 500,
        openAiDefaultMaxTokens: 64
      })
      expect(settings.orchestrator).toEqual(OrchestratorOptions.make({
        queueCapacity: 7,
        policy: "drop-lru",
        firstTokenTimeoutMs: 1000,
        idleTimeoutMs: 2000,
        retentionMs: 3000,
        sessionTtlMs: 4000,
        sessionMaxTurns: 5,
        sessionTokenBudget: 6000,
        allowPinning: false
      }))
      // what the file does not say keeps the orchestrator's defaults
      expect(settings.orchestrator.leaseRetryMs).toBe(250)
    }).pipe(env({})))

  it.effect("declared engines and pools replace the mock pool, in the state_dir given", () =>
    Effect.gen(function*() {
      const settings = yield* resolve({
        state_dir: "/var/lib/orch",
        stop_grace_ms: 5,
        engines: [{ name: "llama", command: "llama-server", args: ["-m", "{model}"] }],
        pools: [{ id: "p1", engine: "llama", model: "a.gguf", ctx_max: 2048 }]
      })
      const options = embedded(settings)
      expect(options.stateDir).toBe("/var/lib/orch")
      expect(options.stopGraceMs).toBe(5)
      expect(options.profiles.map((p) => p.command)).toEqual(["llama-server"])
      expect(options.pools.map((p) => [p.id, p.ctxMax])).toEqual([["p1", 2048]])
    }).pipe(env({})))

  it.effect("remote: the pool manager's URL and its token, from the environment before the file", () =>
    Effect.gen(function*() {
      const fromFile = yield* resolve({ pool_manager: { url: "http://10.0.0.2:9200", token: "file-token" } })
      expect(fromFile.pools).toEqual({
        _tag: "Remote",
        url: "http://10.0.0.2:9200",
        token: Option.some(Redacted.make("file-token"))
      })
      if (fromFile.pools._tag !== "Remote") return
      expect(Option.map(fromFile.pools.token, Redacted.value)).toEqual(Option.some("file-token"))
      const fromEnv = yield* resolve({ pool_manager: { url: "http://10.0.0.2:9200", token: "file-token" } }).pipe(
        env({ POOL_MANAGERD_TOKEN: "env-token", ORCHESTRATORD_TOKEN: "own-token" })
      )
      expect(fromEnv.pools._tag === "Remote" && Option.map(fromEnv.pools.token, Redacted.value)).toEqual(
        Option.some("env-token")
      )
      expect(Option.map(fromEnv.token, Redacted.value)).toEqual(Option.some("own-token"))
      const both = yield* problems({ pool_manager: { url: "http://x", token: "a", token_file: "/x" } })
      expect(both).toEqual(["pool_manager.token: set either pool_manager.token or pool_manager.token_file, not both"])
    }).pipe(env({})))

  it.effect("discovery: the DNS name, port, interval and the DNS servers to ask (default: the system's)", () =>
    Effect.gen(function*() {
      const cluster = (settings: Config.Settings) =>
        settings.pools._tag === "Cluster" ? settings.pools.options : expect.unreachable("not a cluster")
      const asked = cluster(
        yield* resolve({
          discovery: {
            dns: "pm.svc",
            port: 9300,
            interval_ms: 250,
            servers: ["127.0.0.1:5353", "[::1]:53", "10.96.0.10"]
          }
        })
      )
      expect(asked.discovery).toEqual({
        dns: "pm.svc",
        port: 9300,
        intervalMs: 250,
        servers: ["127.0.0.1:5353", "[::1]:53", "10.96.0.10"],
        token: undefined
      })
      const system = cluster(yield* resolve({ discovery: { dns: "pm.svc" } }))
      expect(system.discovery).toEqual({
        dns: "pm.svc",
        port: 9200,
        intervalMs: 5_000,
        servers: undefined,
        token: undefined
      })
    }).pipe(env({})))

  it.effect("says what is wrong with each of its own keys, word for word; a secret's value is never shown", () =>
    Effect.gen(function*() {
      for (const [input, expected] of mistakes) {
        expect(yield* problems(input), JSON.stringify(input)).toEqual(expected)
      }
    }).pipe(env({})))

  it.effect("engines declared without pools are checked, though the mock pool runs", () =>
    Effect.gen(function*() {
      expect(yield* problems({ engines: [{ name: "e" }] })).toEqual([
        "engines.0.command: is missing (or set mock: true)"
      ])
      const settings = yield* resolve({ engines: [{ name: "e", command: "x" }] })
      expect(embedded(settings).profiles.map((p) => p.name)).toEqual(["mock"])
    }).pipe(env({})))

  it.effect("a reload applies embedded pools; over a remote pool manager, or when the file changes mode, it only reports", () =>
    Effect.gen(function*() {
      const decode = (input: unknown) => ConfigFile.decodeConfig(Config.ConfigFile, input, "orchestratord.yaml")
      const declared = {
        engines: [{ name: "m", mock: true }],
        pools: [{ id: "a", engine: "m", model: "x" }]
      }
      const embeddedFile = yield* decode({ port: 1, ...declared })
      const inForce = Config.reloadInputs(embeddedFile, true, { profiles: [], pools: [], reload: embeddedFile.reload })
      expect(inForce.pools.map((p) => p.id)).toEqual(["a"])
      expect(Object.keys(inForce.settings)).not.toContain("pools")
      // the file switches to a remote pool manager: the pools in force stay, the switch is reported
      const remoteFile = yield* decode({ port: 1, pool_manager: { url: "http://gpu-box:9200" } })
      const switched = Config.reloadInputs(remoteFile, true, inForce)
      expect(switched.pools).toBe(inForce.pools)
      expect(ConfigPlan.make(inForce, switched).restartRequired).toEqual(["pool_manager"])
      // over a remote pool manager every key is a setting, engines and pools too
      const remote = Config.reloadInputs(remoteFile, false, { profiles: [], pools: [], reload: remoteFile.reload })
      const plan = ConfigPlan.make(remote, Config.reloadInputs(yield* decode({ port: 2, ...declared }), false, remote))
      expect(plan).toEqual(
        ConfigPlan.ReloadPlan.make({ pools: [], restartRequired: ["engines", "pool_manager", "pools", "port"] })
      )
    }))
})
