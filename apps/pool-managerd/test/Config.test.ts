import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { ConfigFile } from "@llama-orch/daemon-kit"
import { mockEngineProfileArgs } from "@llama-orch/mock-engine"
import { Config } from "@llama-orch/pool-managerd"
import { ConfigProvider, Effect, Layer, Option, Redacted } from "effect"

const noFlags: Config.Overrides = { host: Option.none(), port: Option.none(), stateDir: Option.none() }

const env = (vars: Record<string, string>) =>
  Effect.provide(
    Layer.merge(NodeContext.layer, Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(vars)))))
  )

const resolve = (input: unknown, overrides: Config.Overrides = noFlags) =>
  ConfigFile.decodeConfig(Config.PoolManagerdConfig, input, "pools.yaml").pipe(
    Effect.flatMap((config) => Config.resolve(config, overrides, "pools.yaml", "1.2.3"))
  )

const paths = (error: ConfigFile.ConfigError) => error.issues.map((issue) => issue.path)

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
      }, { host: Option.some("::1"), port: Option.some(0), stateDir: Option.some("/tmp/pm") })
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

  it.effect("a mock engine runs the mock-engine program with the profile template and extra flags", () =>
    Effect.gen(function*() {
      const settings = yield* resolve({ engines: [{ name: "mock", mock: true, args: ["--load-ms", "10"] }] })
      const profile = settings.manager.profiles[0]
      expect(profile?.command).toBe(process.execPath)
      expect(profile?.args.some((arg) => arg.includes("mock-engine"))).toBe(true)
      expect(profile?.args.slice(-mockEngineProfileArgs.length - 2)).toEqual([
        ...mockEngineProfileArgs,
        "--load-ms",
        "10"
      ])
      // the profile is mock-engine's own: its API key variable and its version command
      expect(profile?.env).toEqual({ LLAMA_API_KEY: "{api_key}" })
      expect(profile?.versionArgs?.at(-1)).toBe("--version")
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
