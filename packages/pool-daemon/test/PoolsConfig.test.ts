/**
 * The engines, pools and manager keys both daemons read: snake_case in the file, decoded onto
 * pool-core's options with pool-core's defaults, errors naming the file's path as they always have.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigFile } from "@llama-orch/daemon-kit"
import { mockEngineProfileArgs } from "@llama-orch/mock-engine"
import { CatalogModel, Devices, EmbeddedPoolManager, EngineProfile, PoolId, PoolSpec } from "@llama-orch/pool-core"
import { PoolsConfig } from "@llama-orch/pool-daemon"
import { Effect, Schema } from "effect"

const Section = Schema.Struct(PoolsConfig.fields).pipe(Schema.filter(PoolsConfig.checkReferences))

const decode = (input: unknown) => ConfigFile.decodeConfig(Section, input, "pools.yaml")

const problems = (input: unknown) =>
  Effect.map(Effect.flip(decode(input)), (error) => error.issues.map((issue) => `${issue.path}: ${issue.message}`))

const engine = { name: "e", command: "x" }

/** Files and what is wrong with them, word for word. */
const mistakes: ReadonlyArray<readonly [unknown, ReadonlyArray<string>]> = [
  [{ state_dir: "" }, [`state_dir: Expected a non empty string, actual ""`]],
  [{ model_dir: "" }, [`model_dir: Expected a non empty string, actual ""`]],
  [{ engine_host: "" }, [`engine_host: Expected a non empty string, actual ""`]],
  [{ engine_host: " ::1" }, [`engine_host: Expected a string with no leading or trailing whitespace, actual " ::1"`]],
  [{ shutdown_deadline_ms: -1 }, ["shutdown_deadline_ms: Expected a non-negative number, actual -1"]],
  [{ stop_grace_ms: 1.5 }, ["stop_grace_ms: Expected an integer, actual 1.5"]],
  [{ startup_timeout_ms: 0 }, ["startup_timeout_ms: Expected a positive number, actual 0"]],
  [{ probe_timeout_ms: "x" }, [`probe_timeout_ms: Expected number, actual "x"`]],
  [{ liveness: { interval_ms: 0, failures: -1 } }, [
    "liveness.interval_ms: Expected a positive number, actual 0",
    "liveness.failures: Expected a positive number, actual -1"
  ]],
  [{ liveness: { foo: 1 } }, [`liveness.foo: is unexpected, expected: "interval_ms" | "failures"`]],
  [{ reload: { strategy: "rolling", deadline_ms: -1 } }, [
    `reload.strategy: Expected "replace", actual "rolling" or Expected "surge", actual "rolling"`,
    "reload.deadline_ms: Expected a non-negative number, actual -1"
  ]],
  [{ restart: { jitter: 2, base_ms: -1, max_ms: "x", reset_after_ms: -1, max_failures: 0, window_ms: 0 } }, [
    "restart.base_ms: Expected a non-negative number, actual -1",
    `restart.max_ms: Expected number, actual "x"`,
    "restart.jitter: Expected a number between 0 and 1, actual 2",
    "restart.reset_after_ms: Expected a non-negative number, actual -1",
    "restart.max_failures: Expected a positive number, actual 0",
    "restart.window_ms: Expected a positive number, actual 0"
  ]],
  [{ engines: [{ name: "e" }] }, ["engines.0.command: is missing (or set mock: true)"]],
  [{ engines: [{ name: "e", mock: true, command: "x" }] }, [
    "engines.0.command: a mock engine has no command (remove mock or command)"
  ]],
  [{ engines: [{ name: "e", command: "x", protocol: "grpc" }] }, [
    `engines.0.protocol: Expected "llamacpp", actual "grpc" or Expected "openai", actual "grpc"`
  ]],
  [{ engines: [{ name: "", command: "" }] }, [
    `engines.0.name: Expected a non empty string, actual ""`,
    `engines.0.command: Expected a non empty string, actual ""`
  ]],
  [{ engines: [{ ...engine, health_path: "nope", env: { A: 1 }, version_args: "x", args: "y" }] }, [
    `engines.0.args: Expected ReadonlyArray<string>, actual "y"`,
    "engines.0.env.A: Expected string, actual 1",
    `engines.0.health_path: Expected a string starting with "/", actual "nope"`,
    `engines.0.version_args: Expected ReadonlyArray<string>, actual "x"`
  ]],
  [{ engines: [{ ...engine, healthPath: "/h" }] }, [
    `engines.0.healthPath: is unexpected, expected: "name" | "mock" | "protocol" | "command" | "args" | "env" | "health_path" | "version_args"`
  ]],
  [{ engines: [engine, { name: "e", command: "y" }] }, [`engines.1.name: duplicate engine name "e"`]],
  [{ engines: [engine], pools: [{ id: "p", engine: "nope", model: "m" }] }, [
    `pools.0.engine: no engine named "nope" (configured: e)`
  ]],
  [{ pools: [{ id: "p", engine: "nope", model: "m" }] }, [`pools.0.engine: no engine named "nope" (configured: none)`]],
  [{ engines: [engine], pools: [{ id: "p", engine: "e", model: "m" }, { id: "p", engine: "e", model: "m" }] }, [
    `pools.1.id: duplicate pool id "p"`
  ]],
  [{
    engines: [engine],
    pools: [{ id: "p", engine: "e", model: "m", port: 5 }, { id: "q", engine: "e", model: "m", port: 5 }]
  }, [
    "pools.1.port: port 5 is used twice"
  ]],
  [{ pools: [{ id: "Bad Id!", engine: "x", model: "m" }] }, [
    "pools.0.id: a pool id is 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
  ]],
  [{ pools: [{ id: "p", engine: "x", model: "../etc/passwd" }] }, [
    "pools.0.model: a model ref is a non-empty relative name that does not start with '-' (it would reach the engine as a flag), without '..' segments or control characters"
  ]],
  [{
    pools: [{
      id: "p",
      engine: "x",
      model: "m",
      slots: 2000,
      ctx_max: -5,
      device_mask: "a",
      port: 0,
      env: { A: 2 },
      startup_timeout_ms: 0,
      preload: "y"
    }]
  }, [
    "pools.0.slots: Expected a number less than or equal to 1024, actual 2000",
    "pools.0.ctx_max: Expected a positive number, actual -5",
    "pools.0.device_mask: a device mask is a comma-separated list of device numbers",
    "pools.0.port: Expected a number between 1 and 65535, actual 0",
    "pools.0.env.A: Expected string, actual 2",
    "pools.0.startup_timeout_ms: Expected a positive number, actual 0",
    `pools.0.preload: Expected boolean, actual "y"`
  ]],
  [{ pools: [{ id: "p", engine: "x", model: "m", ctxMax: 5 }] }, [
    `pools.0.ctxMax: is unexpected, expected: "id" | "engine" | "model" | "slots" | "ctx_max" | "device_mask" | "port" | "env" | "startup_timeout_ms" | "preload" | "model_id" | "args"`
  ]],
  [{
    engines: [engine],
    devices: [{ id: "0", memory_mb: 100 }, { id: "0", memory_mb: 0 }],
    models: [
      { id: "m", aliases: ["n"], engine: "e", model: "a", device: "1" },
      { id: "n", engine: "nope", model: "b", footprint_mb: -1, idle_ttl_ms: 0 },
      { id: "bad id", engine: "e", model: "c", footprintMb: 1 }
    ]
  }, [
    "models.1.footprint_mb: Expected a non-negative number, actual -1",
    "models.1.idle_ttl_ms: Expected a positive number, actual 0",
    `models.2.footprintMb: is unexpected, expected: "id" | "aliases" | "engine" | "model" | "args" | "slots" | "ctx_max" | "footprint_mb" | "idle_ttl_ms" | "keep_loaded" | "min_residency_ms" | "device"`,
    "models.2.id: a model id is 1 to 128 characters: letters, digits and . _ : @ + -, starting with a letter or digit",
    "devices.1.memory_mb: Expected a positive number, actual 0"
  ]],
  [{
    engines: [engine],
    devices: [{ id: "0", memory_mb: 100 }, { id: "0", memory_mb: 200 }],
    models: [
      { id: "m", aliases: ["n"], engine: "e", model: "a", device: "1" },
      { id: "n", engine: "nope", model: "b" }
    ]
  }, [
    `devices.1.id: duplicate device id "0"`,
    `models.0.device: no device "1" (configured: 0)`,
    `models.1.id: model id or alias "n" is used twice`,
    `models.1.engine: no engine named "nope"`
  ]],
  [{ pools: [{}] }, ["pools.0.id: is missing", "pools.0.engine: is missing", "pools.0.model: is missing"]]
]

describe("PoolsConfig", () => {
  it.effect("an empty file is the embedded manager's own defaults", () =>
    Effect.gen(function*() {
      const section = yield* decode({})
      expect(section.stateDir).toBeUndefined()
      const options = PoolsConfig.embeddedOptions(section, { stateDir: "/state", version: "1.2.3" })
      expect(options).toEqual(
        EmbeddedPoolManager.EmbeddedOptions.make({ profiles: [], stateDir: "/state", version: "1.2.3" })
      )
    }))

  it.effect("maps every snake_case key onto the options, and only the manager's keys", () =>
    Effect.gen(function*() {
      const section = yield* decode({
        state_dir: "/var/lib/pm",
        model_dir: "/models",
        engine_host: "127.0.0.2",
        shutdown_deadline_ms: 1234,
        stop_grace_ms: 50,
        startup_timeout_ms: 9000,
        probe_timeout_ms: 300,
        liveness: { interval_ms: 500 },
        restart: { base_ms: 10, max_ms: 20, jitter: 0, reset_after_ms: 30, max_failures: 2, window_ms: 40 },
        engines: [{
          name: "llama",
          protocol: "openai",
          command: "llama-server",
          args: ["-m", "{model}"],
          env: { A: "1" },
          health_path: "/healthz",
          version_args: ["--version"]
        }],
        pools: [{
          id: "p1",
          engine: "llama",
          model: "a.gguf",
          slots: 4,
          ctx_max: 8192,
          device_mask: "0,1",
          port: 9000,
          env: { B: "2" },
          startup_timeout_ms: 700,
          preload: false
        }]
      })
      const options = PoolsConfig.embeddedOptions({ ...section, ...{ token: "not a manager key" } }, {
        stateDir: section.stateDir ?? "unused",
        version: "1.2.3"
      })
      expect(options).toBeInstanceOf(EmbeddedPoolManager.EmbeddedOptions)
      expect(options).not.toHaveProperty("token")
      expect(options).toMatchObject({
        stateDir: "/var/lib/pm",
        modelDir: "/models",
        host: "127.0.0.2",
        shutdownDeadlineMs: 1234,
        stopGraceMs: 50,
        startupTimeoutMs: 9000,
        probeTimeoutMs: 300,
        liveness: { intervalMs: 500, failures: 3 },
        restart: { baseMs: 10, maxMs: 20, jitter: 0, resetAfterMs: 30, maxFailures: 2, windowMs: 40 },
        version: "1.2.3"
      })
      expect(options.profiles).toEqual([
        EngineProfile.make({
          name: "llama",
          protocol: "openai",
          command: "llama-server",
          args: ["-m", "{model}"],
          env: { A: "1" },
          healthPath: "/healthz",
          versionArgs: ["--version"]
        })
      ])
      expect(options.pools).toEqual([
        PoolSpec.make({
          id: PoolId.make("p1"),
          engine: "llama",
          model: "a.gguf",
          slots: 4,
          ctxMax: 8192,
          deviceMask: "0,1",
          port: 9000,
          env: { B: "2" },
          startupTimeoutMs: 700,
          preload: false
        })
      ])
    }))

  it.effect("maps the model catalog's snake_case keys onto the options", () =>
    Effect.gen(function*() {
      const section = yield* decode({
        engines: [engine],
        devices: [{ id: "0", memory_mb: 24_000 }],
        default_idle_ttl_ms: 600_000,
        default_min_residency_ms: 5_000,
        cancel_abandoned_loads: false,
        models: [{
          id: "qwen2.5-7b",
          aliases: ["qwen"],
          engine: "e",
          model: "qwen.gguf",
          args: ["--flash-attn"],
          slots: 2,
          ctx_max: 8192,
          footprint_mb: 6_000,
          idle_ttl_ms: 60_000,
          keep_loaded: true,
          min_residency_ms: 1_000,
          device: "0"
        }, { id: "tiny", engine: "e", model: "tiny.gguf" }]
      })
      const options = PoolsConfig.embeddedOptions(section, { stateDir: "/state", version: "1" })
      expect(options).toMatchObject({
        devices: [Devices.Device.make({ id: "0", memoryMb: 24_000 })],
        defaultIdleTtlMs: 600_000,
        defaultMinResidencyMs: 5_000,
        cancelAbandonedLoads: false
      })
      expect(options.models).toEqual([
        CatalogModel.make({
          id: "qwen2.5-7b",
          aliases: ["qwen"],
          engine: "e",
          model: "qwen.gguf",
          args: ["--flash-attn"],
          slots: 2,
          ctxMax: 8192,
          footprintMb: 6_000,
          idleTtlMs: 60_000,
          keepLoaded: true,
          minResidencyMs: 1_000,
          device: "0"
        }),
        CatalogModel.make({ id: "tiny", engine: "e", model: "tiny.gguf" })
      ])
      expect(options.models[1]).toMatchObject({ aliases: [], slots: 1, ctxMax: 4096, keepLoaded: false })
    }))

  it.effect("a pool or an engine gets pool-core's defaults for what it does not say", () =>
    Effect.gen(function*() {
      const section = yield* decode({ engines: [engine], pools: [{ id: "p", engine: "e", model: "m" }] })
      expect(section.profiles[0]).toEqual(EngineProfile.make({ name: "e", protocol: "llamacpp", command: "x" }))
      expect(section.pools[0]).toEqual(PoolSpec.make({ id: PoolId.make("p"), engine: "e", model: "m" }))
      expect(section.pools[0]).toMatchObject({ slots: 1, ctxMax: 4096, preload: true })
    }))

  it.effect("a mock engine runs the mock-engine program with the profile template and its extra flags", () =>
    Effect.gen(function*() {
      const section = yield* decode({ engines: [{ name: "mock", mock: true, args: ["--load-ms", "10"] }] })
      const profile = section.profiles[0]
      expect(profile).toEqual(
        PoolsConfig.mockProfile({ name: "mock", protocol: "llamacpp", args: ["--load-ms", "10"] })
      )
      expect(profile?.command).toBe(process.execPath)
      expect(profile?.args.some((arg) => arg.includes("mock-engine"))).toBe(true)
      expect(profile?.args.slice(-mockEngineProfileArgs.length - 2)).toEqual([
        ...mockEngineProfileArgs,
        "--load-ms",
        "10"
      ])
      // its API key travels in the environment, not on the command line
      expect(profile?.env).toEqual({ LLAMA_API_KEY: "{api_key}" })
    }))

  it.effect("names the file's path and says what is wrong, for every kind of mistake", () =>
    Effect.gen(function*() {
      for (const [input, expected] of mistakes) {
        expect(yield* problems(input), JSON.stringify(input)).toEqual(expected)
      }
    }))

  it("encodes a profile back into a file entry that decodes to the same profile", () => {
    const entry = Schema.encodeSync(PoolsConfig.EngineEntry)(
      EngineProfile.make({ name: "llama", protocol: "openai", command: "llama-server", healthPath: "/h" })
    )
    expect(entry).toEqual({
      name: "llama",
      mock: false,
      protocol: "openai",
      command: "llama-server",
      args: [],
      health_path: "/h"
    })
    expect(Schema.decodeUnknownSync(PoolsConfig.EngineEntry)(entry)).toEqual(
      EngineProfile.make({ name: "llama", protocol: "openai", command: "llama-server", healthPath: "/h" })
    )
  })
})
