/**
 * The configuration of `pool-managerd`: one YAML file (snake_case keys) decoded by
 * `PoolManagerdConfig`, overridden by command-line flags, and turned into the embedded pool
 * manager's options.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import { ConfigFile, Secret, ServerConfig } from "@llama-orch/daemon-kit"
import { type EmbeddedPoolManager, RemotePolicy, RpcHttpGuard } from "@llama-orch/pool-core"
import { type ConfigPlan, PoolsConfig } from "@llama-orch/pool-daemon"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

const PositiveInt = Schema.Int.pipe(Schema.positive())

/**
 * The default address, port, state directory and token credential.
 *
 * @category utils
 * @since 0.1.0
 */
export const defaults = {
  host: "127.0.0.1",
  port: 9200,
  stateDir: "./.state/pool-managerd",
  /** The systemd credential (`LoadCredential=`) the token is read from when passed. */
  tokenCredential: "pool-managerd.token"
} as const

const server = ServerConfig.fields({ ...defaults, maxBodyBytes: RpcHttpGuard.defaultMaxBodyBytes })
const pools = PoolsConfig.fields

/**
 * `remote_register_limits`: the bounds of `RemotePolicy` (its defaults where not given).
 *
 * @category schemas
 * @since 0.1.0
 */
export const RemoteRegisterLimits = Schema.Struct({
  maxSlots: Schema.optionalWith(PositiveInt, { exact: true }).pipe(Schema.fromKey("max_slots")),
  maxCtx: Schema.optionalWith(PositiveInt, { exact: true }).pipe(Schema.fromKey("max_ctx")),
  maxStartupTimeoutMs: Schema.optionalWith(PositiveInt, { exact: true }).pipe(Schema.fromKey("max_startup_timeout_ms"))
})

/**
 * The whole file, snake_case keys decoded onto camelCase fields with their defaults (every key is
 * optional; see the README). The engines and pools are pool-daemon's `PoolsConfig`, checked
 * against each other.
 *
 * @category schemas
 * @since 0.1.0
 */
export const PoolManagerdConfig = Schema.Struct({
  host: server.host,
  port: server.port,
  stateDir: pools.stateDir,
  modelDir: pools.modelDir,
  token: server.token,
  tokenFile: server.tokenFile,
  allowedHosts: server.allowedHosts,
  allowedOrigins: server.allowedOrigins,
  allowRemoteRegister: Schema.optionalWith(Schema.Boolean, { default: () => false }).pipe(
    Schema.fromKey("allow_remote_register")
  ),
  remoteRegisterLimits: Schema.optionalWith(RemoteRegisterLimits, { default: () => ({}) }).pipe(
    Schema.fromKey("remote_register_limits")
  ),
  maxBodyBytes: server.maxBodyBytes,
  engineHost: pools.engineHost,
  shutdownDeadlineMs: pools.shutdownDeadlineMs,
  stopGraceMs: pools.stopGraceMs,
  startupTimeoutMs: pools.startupTimeoutMs,
  probeTimeoutMs: pools.probeTimeoutMs,
  liveness: pools.liveness,
  restart: pools.restart,
  logLevel: server.logLevel,
  profiles: pools.profiles,
  pools: pools.pools,
  models: pools.models,
  devices: pools.devices,
  defaultIdleTtlMs: pools.defaultIdleTtlMs,
  defaultMinResidencyMs: pools.defaultMinResidencyMs,
  cancelAbandonedLoads: pools.cancelAbandonedLoads,
  reload: pools.reload
}).pipe(Schema.filter(PoolsConfig.checkReferences))

/**
 * A value of the `PoolManagerdConfig` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type PoolManagerdConfig = typeof PoolManagerdConfig.Type

/**
 * Command-line flags that override the file.
 *
 * @category models
 * @since 0.1.0
 */
export interface Overrides {
  readonly host: Option.Option<string>
  readonly port: Option.Option<number>
  readonly stateDir: Option.Option<string>
  /**
   * `--engine-host`: the address engines bind to and leases name (`engine_host`), e.g. the pod IP
   * that Kubernetes substitutes into the container's arguments.
   */
  readonly engineHost: Option.Option<string>
}

/**
 * Everything the daemon needs to start: where to listen, the token, the log level and the embedded
 * manager's options.
 *
 * @category models
 * @since 0.1.0
 */
export interface Settings {
  readonly host: string
  readonly port: number
  readonly token: Option.Option<Redacted.Redacted<string>>
  /** Host names served besides loopback ones (`allowed_hosts`). */
  readonly allowedHosts: ReadonlyArray<string>
  /** Browser origins allowed to call the RPC (`allowed_origins`). */
  readonly allowedOrigins: ReadonlyArray<string>
  /** What remote callers may register (`allow_remote_register`, `remote_register_limits`). */
  readonly remote: RemotePolicy.RemotePolicy
  /** Cap on an RPC request body and on one NDJSON frame, in bytes (`max_body_bytes`, default 1 MiB). */
  readonly maxBodyBytes: number
  /** The file's `log_level`, if set (`--log-level` wins over it; default `info`). */
  readonly logLevel: typeof ServerConfig.LogLevel.Type | undefined
  readonly manager: EmbeddedPoolManager.EmbeddedOptions
  /** The configuration file (`--config`), read again on a reload. */
  readonly file: Option.Option<string>
  /** What a reload compares the file with: the engines, pools and start-only settings of this start. */
  readonly reload: ConfigPlan.Inputs
}

const encodeConfig = Schema.encodeSync(PoolManagerdConfig)

/** The file's keys a reload applies; every other key only applies at start. */
const reloadedKeys: ReadonlySet<string> = new Set(["engines", "pools", "reload"])

/**
 * What a reload compares: the engines, pools and `reload` section of a decoded file, and every
 * other key of the file as a setting that needs a restart.
 *
 * @category utils
 * @since 0.1.0
 */
export const reloadInputs = (config: PoolManagerdConfig): ConfigPlan.Inputs => ({
  profiles: config.profiles,
  pools: config.pools,
  reload: config.reload,
  settings: Object.fromEntries(Object.entries(encodeConfig(config)).filter(([key]) => !reloadedKeys.has(key)))
})

/**
 * Reads the file again for a reload (a `ConfigError` when it is invalid, or when the daemon started
 * without one).
 *
 * @category utils
 * @since 0.1.0
 */
export const reloadFile = (
  file: Option.Option<string>
): Effect.Effect<ConfigPlan.Inputs, ConfigFile.ConfigError, FileSystem.FileSystem> =>
  Option.match(file, {
    onNone: () =>
      ConfigFile.configError(
        "command line",
        "--config",
        "pool-managerd started without a file: there is none to reload"
      ),
    onSome: (path) => Effect.map(ConfigFile.loadYamlFile(PoolManagerdConfig, path), reloadInputs)
  })

/**
 * Turns a decoded file and the flags into `Settings`: resolves the token (`POOL_MANAGERD_TOKEN`, `POOL_MANAGERD_TOKEN_FILE`, the systemd
 * credential `pool-managerd.token`, `token`, `token_file`) and fills in defaults. `source` names the file in errors.
 *
 * @category utils
 * @since 0.1.0
 */
export const resolve = (
  config: PoolManagerdConfig,
  overrides: Overrides,
  source: string,
  version: string,
  file: Option.Option<string> = Option.none()
): Effect.Effect<Settings, ConfigFile.ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const token = yield* Secret.resolveSecret({
      key: "token",
      env: "POOL_MANAGERD_TOKEN",
      credential: defaults.tokenCredential,
      value: config.token,
      file: config.tokenFile,
      source
    })
    const port = Option.getOrElse(overrides.port, () => config.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      return yield* ConfigFile.configError("command line", "--port", `${port} is not a port number (0-65535)`)
    }
    const stateDir = yield* Option.match(overrides.stateDir, {
      onNone: () => Effect.succeed(config.stateDir ?? defaults.stateDir),
      onSome: (dir) =>
        dir.length > 0 ? Effect.succeed(dir) : ConfigFile.configError("command line", "--state-dir", "is empty")
    })
    const engineHost = yield* Option.match(overrides.engineHost, {
      onNone: () => Effect.succeed(config.engineHost),
      onSome: (host) =>
        host.trim().length > 0
          ? Effect.succeed(host.trim())
          : ConfigFile.configError("command line", "--engine-host", "is empty")
    })
    return {
      host: Option.getOrElse(overrides.host, () => config.host),
      port,
      token,
      allowedHosts: config.allowedHosts,
      allowedOrigins: config.allowedOrigins,
      remote: RemotePolicy.RemotePolicy.make({
        allowRegister: config.allowRemoteRegister,
        ...config.remoteRegisterLimits
      }),
      maxBodyBytes: config.maxBodyBytes,
      logLevel: config.logLevel,
      manager: PoolsConfig.embeddedOptions({ ...config, engineHost }, { stateDir, version }),
      file,
      reload: reloadInputs(config)
    }
  })

/**
 * Reads and resolves the configuration: the file when given (otherwise every default, with no
 * pools and no engines), then the flags.
 *
 * @category utils
 * @since 0.1.0
 */
export const load = (
  file: Option.Option<string>,
  overrides: Overrides,
  version: string
): Effect.Effect<Settings, ConfigFile.ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const source = Option.getOrElse(file, () => "defaults")
    const config = yield* Option.match(file, {
      onNone: () => ConfigFile.decodeConfig(PoolManagerdConfig, {}, source),
      onSome: (path) => ConfigFile.loadYamlFile(PoolManagerdConfig, path)
    })
    return yield* resolve(config, overrides, source, version, file)
  })
