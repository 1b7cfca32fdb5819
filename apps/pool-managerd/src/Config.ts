/**
 * The configuration of `pool-managerd`: one YAML file (snake_case keys) decoded by
 * `PoolManagerdConfig`, overridden by command-line flags, and turned into the embedded pool
 * manager's options.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import { ConfigFile, RequestGuard, Secret } from "@llama-orch/daemon-kit"
import { mockEngineProfile } from "@llama-orch/mock-engine"
import { EmbeddedPoolManager, EngineProfile, PoolSpec, RemotePolicy, RpcHttpGuard } from "@llama-orch/pool-core"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())
const PositiveInt = Schema.Int.pipe(Schema.positive())
const Env = Schema.Record({ key: Schema.String, value: Schema.String })

/**
 * The default address, port, state directory and token credential.
 *
 * @since 0.1.0
 */
export const defaults = {
  host: "127.0.0.1",
  port: 9200,
  stateDir: "./.state/pool-managerd",
  /** The systemd credential (`LoadCredential=`) the token is read from when passed. */
  tokenCredential: "pool-managerd.token"
} as const

/**
 * One engine profile in the file. With `mock: true` the profile runs the mock engine of
 * `@llama-orch/mock-engine` (no `command`; `args` are extra mock-engine flags such as
 * `["--load-ms", "200"]`).
 *
 * @since 0.1.0
 */
export const EngineEntry = Schema.Struct({
  name: EngineProfile.fields.name,
  mock: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  protocol: Schema.optionalWith(EngineProfile.fields.protocol, { default: () => "llamacpp" as const }),
  command: Schema.optional(EngineProfile.fields.command),
  args: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  env: Schema.optional(Env),
  health_path: Schema.optional(Schema.String.pipe(Schema.startsWith("/"))),
  version_args: Schema.optional(Schema.Array(Schema.String))
})

/**
 * One pool in the file: a `PoolSpec` with snake_case keys.
 *
 * @since 0.1.0
 */
export const PoolEntry = Schema.Struct({
  id: PoolSpec.fields.id,
  engine: PoolSpec.fields.engine,
  model: PoolSpec.fields.model,
  slots: Schema.optional(PoolSpec.fields.slots.from),
  ctx_max: Schema.optional(PositiveInt),
  device_mask: PoolSpec.fields.deviceMask,
  port: PoolSpec.fields.port,
  env: Schema.optional(Env),
  startup_timeout_ms: PoolSpec.fields.startupTimeoutMs,
  preload: Schema.optional(Schema.Boolean)
})

/**
 * The whole file. Every key is optional; see the README for defaults.
 *
 * @since 0.1.0
 */
export const PoolManagerdConfig = Schema.Struct({
  host: Schema.optional(Schema.NonEmptyTrimmedString),
  port: Schema.optional(Schema.Int.pipe(Schema.between(0, 65535))),
  state_dir: Schema.optional(Schema.NonEmptyString),
  model_dir: Schema.optional(Schema.NonEmptyString),
  token: Schema.optional(Schema.String),
  token_file: Schema.optional(Schema.NonEmptyString),
  allowed_hosts: Schema.optionalWith(Schema.Array(RequestGuard.AllowedHost), { default: () => [] }),
  allowed_origins: Schema.optionalWith(Schema.Array(RequestGuard.AllowedOrigin), { default: () => [] }),
  allow_remote_register: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  remote_register_limits: Schema.optional(Schema.Struct({
    max_slots: Schema.optional(PositiveInt),
    max_ctx: Schema.optional(PositiveInt),
    max_startup_timeout_ms: Schema.optional(PositiveInt)
  })),
  max_body_bytes: Schema.optional(PositiveInt),
  engine_host: Schema.optional(Schema.NonEmptyTrimmedString),
  shutdown_deadline_ms: Schema.optional(NonNegativeInt),
  stop_grace_ms: Schema.optional(NonNegativeInt),
  startup_timeout_ms: Schema.optional(PositiveInt),
  probe_timeout_ms: Schema.optional(PositiveInt),
  liveness: Schema.optional(Schema.Struct({
    interval_ms: Schema.optional(PositiveInt),
    failures: Schema.optional(PositiveInt)
  })),
  restart: Schema.optional(Schema.Struct({
    base_ms: Schema.optional(NonNegativeInt),
    max_ms: Schema.optional(NonNegativeInt),
    jitter: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
    reset_after_ms: Schema.optional(NonNegativeInt),
    max_failures: Schema.optional(PositiveInt),
    window_ms: Schema.optional(PositiveInt)
  })),
  log_level: Schema.optional(Schema.Literal("debug", "info", "warning", "error")),
  engines: Schema.optionalWith(Schema.Array(EngineEntry), { default: () => [] }),
  pools: Schema.optionalWith(Schema.Array(PoolEntry), { default: () => [] })
})

/**
 * @since 0.1.0
 */
export type PoolManagerdConfig = typeof PoolManagerdConfig.Type

/**
 * Command-line flags that override the file.
 *
 * @since 0.1.0
 */
export interface Overrides {
  readonly host: Option.Option<string>
  readonly port: Option.Option<number>
  readonly stateDir: Option.Option<string>
}

/**
 * Everything the daemon needs to start: where to listen, the token, the log level and the embedded
 * manager's options.
 *
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
  readonly logLevel: "debug" | "info" | "warning" | "error" | undefined
  readonly manager: EmbeddedPoolManager.EmbeddedOptions
}

const toProfile = (entry: typeof EngineEntry.Type, index: number, source: string) =>
  Effect.gen(function*() {
    const path = `engines.${index}`
    if (entry.command === undefined) {
      if (!entry.mock) return yield* ConfigFile.configError(source, `${path}.command`, "is missing (or set mock: true)")
      return mockEngineProfile({
        name: entry.name,
        protocol: entry.protocol,
        args: entry.args,
        env: entry.env,
        healthPath: entry.health_path,
        versionArgs: entry.version_args
      })
    }
    if (entry.mock) {
      return yield* ConfigFile.configError(
        source,
        `${path}.command`,
        "a mock engine has no command (remove mock or command)"
      )
    }
    return EngineProfile.make({
      name: entry.name,
      protocol: entry.protocol,
      command: entry.command,
      args: entry.args,
      ...(entry.env === undefined ? {} : { env: entry.env }),
      healthPath: entry.health_path ?? "/health",
      ...(entry.version_args === undefined ? {} : { versionArgs: entry.version_args })
    })
  })

const toSpec = (entry: typeof PoolEntry.Type): PoolSpec =>
  PoolSpec.make({
    id: entry.id,
    engine: entry.engine,
    model: entry.model,
    ...(entry.slots === undefined ? {} : { slots: entry.slots }),
    ...(entry.ctx_max === undefined ? {} : { ctxMax: entry.ctx_max }),
    ...(entry.device_mask === undefined ? {} : { deviceMask: entry.device_mask }),
    ...(entry.port === undefined ? {} : { port: entry.port }),
    ...(entry.env === undefined ? {} : { env: entry.env }),
    ...(entry.startup_timeout_ms === undefined ? {} : { startupTimeoutMs: entry.startup_timeout_ms }),
    ...(entry.preload === undefined ? {} : { preload: entry.preload })
  })

const checkReferences = (config: PoolManagerdConfig, source: string) =>
  Effect.gen(function*() {
    const issues: Array<ConfigFile.ConfigIssue> = []
    const names = new Set<string>()
    config.engines.forEach((engine, i) => {
      if (names.has(engine.name)) {
        issues.push(
          new ConfigFile.ConfigIssue({ path: `engines.${i}.name`, message: `duplicate engine name "${engine.name}"` })
        )
      }
      names.add(engine.name)
    })
    const ids = new Set<string>()
    const ports = new Set<number>()
    config.pools.forEach((pool, i) => {
      if (ids.has(pool.id)) {
        issues.push(new ConfigFile.ConfigIssue({ path: `pools.${i}.id`, message: `duplicate pool id "${pool.id}"` }))
      }
      ids.add(pool.id)
      if (!names.has(pool.engine)) {
        issues.push(
          new ConfigFile.ConfigIssue({
            path: `pools.${i}.engine`,
            message: `no engine named "${pool.engine}" (configured: ${[...names].join(", ") || "none"})`
          })
        )
      }
      if (pool.port !== undefined) {
        if (ports.has(pool.port)) {
          issues.push(
            new ConfigFile.ConfigIssue({ path: `pools.${i}.port`, message: `port ${pool.port} is used twice` })
          )
        }
        ports.add(pool.port)
      }
    })
    if (issues.length > 0) return yield* new ConfigFile.ConfigError({ source, issues })
  })

const remotePolicy = (config: PoolManagerdConfig): RemotePolicy.RemotePolicy => {
  const limits = config.remote_register_limits
  return RemotePolicy.RemotePolicy.make({
    allowRegister: config.allow_remote_register,
    ...(limits?.max_slots === undefined ? {} : { maxSlots: limits.max_slots }),
    ...(limits?.max_ctx === undefined ? {} : { maxCtx: limits.max_ctx }),
    ...(limits?.max_startup_timeout_ms === undefined ? {} : { maxStartupTimeoutMs: limits.max_startup_timeout_ms })
  })
}

/**
 * Turns a decoded file and the flags into `Settings`: checks references between pools and
 * engines, resolves the token (`POOL_MANAGERD_TOKEN`, `POOL_MANAGERD_TOKEN_FILE`, the systemd
 * credential `pool-managerd.token`, `token`, `token_file`) and fills in defaults. `source` names the file in errors.
 *
 * @since 0.1.0
 */
export const resolve = (
  config: PoolManagerdConfig,
  overrides: Overrides,
  source: string,
  version: string
): Effect.Effect<Settings, ConfigFile.ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    yield* checkReferences(config, source)
    const profiles = yield* Effect.forEach(config.engines, (entry, i) => toProfile(entry, i, source))
    const token = yield* Secret.resolveSecret({
      key: "token",
      env: "POOL_MANAGERD_TOKEN",
      credential: defaults.tokenCredential,
      value: config.token,
      file: config.token_file,
      source
    })
    const port = Option.getOrElse(overrides.port, () => config.port ?? defaults.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      return yield* ConfigFile.configError("command line", "--port", `${port} is not a port number (0-65535)`)
    }
    // optional fields with defaults read `undefined` as absent
    const manager = yield* Schema.decodeUnknown(EmbeddedPoolManager.EmbeddedOptions)({
      profiles: profiles.map((p) => Schema.encodeSync(EngineProfile)(p)),
      stateDir: Option.getOrElse(overrides.stateDir, () => config.state_dir ?? defaults.stateDir),
      pools: config.pools.map((p) => Schema.encodeSync(PoolSpec)(toSpec(p))),
      version,
      host: config.engine_host,
      modelDir: config.model_dir,
      stopGraceMs: config.stop_grace_ms,
      shutdownDeadlineMs: config.shutdown_deadline_ms,
      startupTimeoutMs: config.startup_timeout_ms,
      probeTimeoutMs: config.probe_timeout_ms,
      liveness: { intervalMs: config.liveness?.interval_ms, failures: config.liveness?.failures },
      restart: {
        baseMs: config.restart?.base_ms,
        maxMs: config.restart?.max_ms,
        jitter: config.restart?.jitter,
        resetAfterMs: config.restart?.reset_after_ms,
        maxFailures: config.restart?.max_failures,
        windowMs: config.restart?.window_ms
      }
    }).pipe(
      Effect.mapError((error) => new ConfigFile.ConfigError({ source, issues: ConfigFile.issuesFromParseError(error) }))
    )
    return {
      host: Option.getOrElse(overrides.host, () => config.host ?? defaults.host),
      port,
      token,
      allowedHosts: config.allowed_hosts,
      allowedOrigins: config.allowed_origins,
      remote: remotePolicy(config),
      maxBodyBytes: config.max_body_bytes ?? RpcHttpGuard.defaultMaxBodyBytes,
      logLevel: config.log_level,
      manager
    }
  })

/**
 * Reads and resolves the configuration: the file when given (otherwise every default, with no
 * pools and no engines), then the flags.
 *
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
    return yield* resolve(config, overrides, source, version)
  })
