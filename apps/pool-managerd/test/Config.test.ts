import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { ConfigFile } from "@llama-orch/daemon-kit"
import { RemotePolicy, RpcHttpGuard } from "@llama-orch/pool-core"
import { Config } from "@llama-orch/pool-managerd"
import { ConfigProvider, Effect, Layer, Option, Redacted } from "effect"

const noFlags: Config.Overrides = {
  host: Option.none(),
  port: Option.none(),
  stateDir: Option.none(),
  engineHost: Option.none()
}

const env = (vars: Record<string, string>) =>
  Effect.provide(
    Layer.merge(NodeContext.layer, Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(vars)))))
  )

const resolve = (input: unknown, overrides: Config.Overrides = noFlags) =>
  ConfigFile.decodeConfig(Config.PoolManagerdConfig, input, "pools.yaml").pipe(
    Effect.flatMap((config) => Config.resolve(config, overrides, "pools.yaml", "1.2.3"))
  )

const paths = (error: ConfigFile.ConfigError) => error.issues.map((issue) => issue.path)

const problems = (input: unknown) =>
  Effect.map(Effect.flip(resolve(input)), (error) => error.issues.map((issue) => `${issue.path}: ${issue.message}`))

/** pool-managerd's own keys and what is wrong with them, word for word (pool-daemon checks the engines and pools). */
const mistakes: ReadonlyArray<readonly [unknown, ReadonlyArray<string>]> = [
  [{ port: 70000 }, ["port: Expected a number between 0 and 65535, actual 70000"]],
  [{ port: "x" }, [`port: Expected number, actual "x"`]],
  [{ host: "" }, [`host: Expected a non empty string, actual ""`]],
  [{ log_level: "loud" }, [
    `log_level: Expected "debug", actual "loud" or Expected "info", actual "loud" or Expected "warning", actual "loud" or Expected "error", actual "loud"`
  ]],
  [{ token: 123456789012 }, ["token: Expected string (the value is not shown: it is a secret)"]],
  [{ token: "a", token_file: "/x" }, ["token: set either token or token_file, not both"]],
  [{ token_file: "" }, ["token_file: Expected a non empty string (the value is not shown: it is a secret)"]],
  [{ allowed_hosts: ["*"] }, ["allowed_hosts.0: a host name or address without port, e.g. llm.internal or [fd00::1]"]],
  [{ allowed_origins: ["ftp://x"] }, [
    `allowed_origins.0: an origin is scheme://host[:port] (http or https, no path), or "*"; got "ftp://x"`
  ]],
  [{ max_body_bytes: 0 }, ["max_body_bytes: Expected a positive number, actual 0"]],
  [
    {
      allow_remote_register: "yes",
      remote_register_limits: { max_slots: 0, max_ctx: -1, max_startup_timeout_ms: 1.5 }
    },
    [
      `allow_remote_register: Expected boolean, actual "yes"`,
      "remote_register_limits.max_slots: Expected a positive number, actual 0",
      "remote_register_limits.max_ctx: Expected a positive number, actual -1",
      "remote_register_limits.max_startup_timeout_ms: Expected an integer, actual 1.5"
    ]
  ],
  [{ state_dir: "" }, [`state_dir: Expected a non empty string, actual ""`]],
  [{ pools: [{ id: "p", engine: "x", model: "m", ctx_max: 0 }] }, [
    "pools.0.ctx_max: Expected a positive number, actual 0"
  ]],
  [{ stateDir: "/x" }, [
    `stateDir: is unexpected, expected: "host" | "port" | "state_dir" | "model_dir" | "token" | "token_file" | "allowed_hosts" | "allowed_origins" | "allow_remote_register" | "remote_register_limits" | "max_body_bytes" | "engine_host" | "shutdown_deadline_ms" | "stop_grace_ms" | "startup_timeout_ms" | "probe_timeout_ms" | "liveness" | "restart" | "log_level" | "engines" | "pools" | "models" | "devices" | "default_idle_ttl_ms" | "default_min_residency_ms" | "cancel_abandoned_loads" | "reload"`
  ]],
  [{ queue: {} }, [
    `queue: is unexpected, expected: "host" | "port" | "state_dir" | "model_dir" | "token" | "token_file" | "allowed_hosts" | "allowed_origins" | "allow_remote_register" | "remote_register_limits" | "max_body_bytes" | "engine_host" | "shutdown_deadline_ms" | "stop_grace_ms" | "startup_timeout_ms" | "probe_timeout_ms" | "liveness" | "restart" | "log_level" | "engines" | "pools" | "models" | "devices" | "default_idle_ttl_ms" | "default_min_residency_ms" | "cancel_abandoned_loads" | "reload"`
  ]]
]

describe("pool-managerd configuration", () => {
  it.effect("defaults: loopback on 9200, no token, no pools", () =>
    Effect.gen(function*() {
      const settings = yield* resolve({})
      expect(settings.host).toBe("127.0.0.1")
      expect(settings.port).toBe(9200)
      expect(Option.isNone(settings.token)).toBe(true)
      expect(settings.manager.stateDir).toBe("./.state/pool-managerd")
      expect(settings.manager.pools).toEqual([])
      expect(settings.manager.version).toBe("1.2.3")
      expect(settings.maxBodyBytes).toBe(RpcHttpGuard.defaultMaxBodyBytes)
      expect(settings.allowedHosts).toEqual([])
      expect(settings.allowedOrigins).toEqual([])
      expect(settings.logLevel).toBeUndefined()
      expect(settings.remote).toEqual(RemotePolicy.registrationDisabled)
    }).pipe(env({})))

  it.effect("maps snake_case keys onto the manager's options and pool specs; flags override the file", () =>
    Effect.gen(function*() {
      const settings = yield* resolve({
        host: "127.0.0.2",
        port: 9300,
        state_dir: "/var/lib/pm",
        model_dir: "/models",
        shutdown_deadline_ms: 1234,
        stop_grace_ms: 50,
        liveness: { interval_ms: 500 },
        restart: { max_failures: 2 },
        engines: [{ name: "llama", command: "llama-server", args: ["-m", "{model}"], health_path: "/healthz" }],
        pools: [{
          id: "p1",
          engine: "llama",
          model: "a.gguf",
          slots: 4,
          ctx_max: 8192,
          device_mask: "0,1",
          preload: false
        }]
      }, { ...noFlags, host: Option.some("::1"), port: Option.some(0), stateDir: Option.some("/tmp/pm") })
      expect(settings.host).toBe("::1")
      expect(settings.port).toBe(0)
      expect(settings.manager.stateDir).toBe("/tmp/pm")
      expect(settings.manager.modelDir).toBe("/models")
      expect(settings.manager.shutdownDeadlineMs).toBe(1234)
      expect(settings.manager.stopGraceMs).toBe(50)
      expect(settings.manager.liveness.intervalMs).toBe(500)
      expect(settings.manager.liveness.failures).toBe(3)
      expect(settings.manager.restart.maxFailures).toBe(2)
      expect(settings.manager.profiles[0]).toMatchObject({
        name: "llama",
        command: "llama-server",
        args: ["-m", "{model}"],
        healthPath: "/healthz",
        protocol: "llamacpp"
      })
      expect(settings.manager.pools[0]).toMatchObject({
        id: "p1",
        engine: "llama",
        model: "a.gguf",
        slots: 4,
        ctxMax: 8192,
        deviceMask: "0,1",
        preload: false
      })
    }).pipe(env({})))

  it.effect("--engine-host wins over the file's engine_host (a pod IP passed in the container's arguments)", () =>
    Effect.gen(function*() {
      const fromFile = yield* resolve({ engine_host: "10.0.0.1" })
      expect(fromFile.manager.host).toBe("10.0.0.1")
      const fromFlag = yield* resolve({ engine_host: "10.0.0.1" }, { ...noFlags, engineHost: Option.some("10.1.2.3") })
      expect(fromFlag.manager.host).toBe("10.1.2.3")
    }).pipe(env({})))

  it.effect("names the bad field for every kind of mistake", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [unknown, ReadonlyArray<string>]> = [
        [{ port: 70000 }, ["port"]],
        [{ pools: [{ id: "Bad Id!", engine: "x", model: "m" }] }, ["pools.0.id"]],
        [{ pools: [{ id: "p", engine: "x", model: "../etc/passwd" }] }, ["pools.0.model"]],
        [{ engines: [{ name: "e" }] }, ["engines.0.command"]],
        [{ engines: [{ name: "e", mock: true, command: "x" }] }, ["engines.0.command"]],
        [{ engines: [{ name: "e", command: "x", protocol: "grpc" }] }, ["engines.0.protocol"]],
        [{ engines: [{ name: "e", command: "x" }], pools: [{ id: "p", engine: "nope", model: "m" }] }, [
          "pools.0.engine"
        ]],
        [{
          engines: [{ name: "e", command: "x" }],
          pools: [{ id: "p", engine: "e", model: "m" }, { id: "p", engine: "e", model: "m" }]
        }, ["pools.1.id"]],
        [{ restart: { jitter: 2 } }, ["restart.jitter"]],
        [{ state_dir: "" }, ["state_dir"]],
        [{ stateDir: "/x" }, ["stateDir"]]
      ]
      for (const [input, expected] of cases) {
        const error = yield* Effect.flip(resolve(input))
        expect(paths(error), JSON.stringify(input)).toEqual(expected)
        expect(error.message).toContain("pools.yaml")
      }
      const badFlag = yield* Effect.flip(resolve({}, { ...noFlags, port: Option.some(-1) }))
      expect(badFlag.message).toContain("--port")
      const emptyStateDir = yield* Effect.flip(resolve({}, { ...noFlags, stateDir: Option.some("") }))
      expect(emptyStateDir.message).toBe("invalid configuration in command line:\n  --state-dir: is empty")
      const emptyEngineHost = yield* Effect.flip(resolve({}, { ...noFlags, engineHost: Option.some(" ") }))
      expect(emptyEngineHost.message).toBe("invalid configuration in command line:\n  --engine-host: is empty")
    }).pipe(env({})))

  it.effect("says what is wrong with each of its own keys, word for word; a secret's value is never shown", () =>
    Effect.gen(function*() {
      for (const [input, expected] of mistakes) {
        expect(yield* problems(input), JSON.stringify(input)).toEqual(expected)
      }
    }).pipe(env({})))

  it.effect("the server keys and the remote registration policy map onto the settings", () =>
    Effect.gen(function*() {
      const settings = yield* resolve({
        allowed_hosts: ["llm.internal"],
        allowed_origins: ["https://ui.example"],
        max_body_bytes: 4096,
        log_level: "debug",
        allow_remote_register: true,
        remote_register_limits: { max_slots: 8, max_startup_timeout_ms: 1000 }
      })
      expect(settings.allowedHosts).toEqual(["llm.internal"])
      expect(settings.allowedOrigins).toEqual(["https://ui.example"])
      expect(settings.maxBodyBytes).toBe(4096)
      expect(settings.logLevel).toBe("debug")
      // max_ctx keeps RemotePolicy's default
      expect(settings.remote).toEqual(
        RemotePolicy.RemotePolicy.make({ allowRegister: true, maxSlots: 8, maxStartupTimeoutMs: 1000 })
      )
      expect(settings.remote.maxCtx).toBe(131_072)
    }).pipe(env({})))

  it.scoped("the token comes from the environment first, then the file's token or token_file", () =>
    Effect.gen(function*() {
      const fromFile = yield* resolve({ token: "file-token" }).pipe(env({}))
      expect(Option.map(fromFile.token, Redacted.value)).toEqual(Option.some("file-token"))
      const fromEnv = yield* resolve({ token: "file-token" }).pipe(env({ POOL_MANAGERD_TOKEN: "env-token" }))
      expect(Option.map(fromEnv.token, Redacted.value)).toEqual(Option.some("env-token"))
      const both = yield* Effect.flip(resolve({ token: "a", token_file: "/x" })).pipe(env({}))
      expect(paths(both)).toEqual(["token"])
    }))
})
