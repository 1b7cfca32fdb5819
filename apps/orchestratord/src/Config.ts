/**
 * orchestratord's configuration file (YAML, snake_case keys), validated with Schema. Three modes:
 *
 * - remote: `pool_manager: { url, token | token_file }` — pools live in a pool-managerd;
 * - embedded: `engines` and `pools` — orchestratord runs the engines itself. These keys (and
 *   `state_dir`, `model_dir`, `engine_host`, `shutdown_deadline_ms`, `stop_grace_ms`,
 *   `startup_timeout_ms`, `probe_timeout_ms`, `liveness`, `restart`) are pool-managerd's own
 *   schema, so a pool-managerd file's engine and pool sections can be moved over unchanged;
 * - neither (or no file at all): one embedded pool `mock-0` on the mock engine, serving `mock-model`.
 *
 * @since 0.1.0
 */
import { QueuePolicy } from "@llama-orch/orchestrator-core"
import { Config as PoolManagerdConfig } from "@llama-orch/pool-managerd"
import * as Schema from "effect/Schema"

const PositiveInt = Schema.Int.pipe(Schema.positive())

/**
 * The remote pool manager: a pool-managerd reached over RPC.
 *
 * @since 0.1.0
 */
export const RemotePoolManager = Schema.Struct({
  url: Schema.String.pipe(Schema.pattern(/^https?:\/\/\S+$/, { message: () => "an http:// or https:// URL" })),
  token: Schema.optional(Schema.String),
  token_file: Schema.optional(Schema.NonEmptyString)
})

/**
 * Queueing and streaming settings of the orchestrator.
 *
 * @since 0.1.0
 */
export const QueueSection = Schema.Struct({
  capacity: Schema.optional(PositiveInt),
  policy: Schema.optional(QueuePolicy),
  first_token_timeout_ms: Schema.optional(PositiveInt),
  idle_timeout_ms: Schema.optional(PositiveInt),
  retention_ms: Schema.optional(PositiveInt),
  session_ttl_ms: Schema.optional(PositiveInt),
  session_max_turns: Schema.optional(PositiveInt),
  session_token_budget: Schema.optional(PositiveInt),
  allow_pinning: Schema.optional(Schema.Boolean)
})

const {
  host: _host,
  log_level: _logLevel,
  max_body_bytes: _maxBodyBytes,
  port: _port,
  token: _token,
  token_file: _tokenFile,
  allowed_hosts: allowedHosts,
  allowed_origins: allowedOrigins,
  // remote registration is pool-managerd's: embedded pools are registered by no remote caller
  allow_remote_register: _allowRemoteRegister,
  remote_register_limits: _remoteRegisterLimits,
  ...embeddedFields
} = PoolManagerdConfig.PoolManagerdConfig.fields

/**
 * The embedded-mode keys, exactly as pool-managerd reads them.
 *
 * @since 0.1.0
 */
export const EmbeddedSection = Schema.Struct(embeddedFields)

/**
 * The whole file. Every key is optional.
 *
 * @since 0.1.0
 */
export const ConfigFile = Schema.Struct({
  host: Schema.optional(Schema.NonEmptyTrimmedString),
  port: Schema.optional(Schema.Int.pipe(Schema.between(0, 65535))),
  token: Schema.optional(Schema.String),
  token_file: Schema.optional(Schema.NonEmptyString),
  log_level: Schema.optional(Schema.Literal("debug", "info", "warning", "error")),
  allowed_hosts: allowedHosts,
  allowed_origins: allowedOrigins,
  max_body_bytes: Schema.optional(PositiveInt),
  heartbeat_ms: Schema.optional(PositiveInt),
  openai_default_max_tokens: Schema.optional(PositiveInt),
  queue: Schema.optional(QueueSection),
  pool_manager: Schema.optional(RemotePoolManager),
  ...embeddedFields
}).pipe(
  Schema.filter((c) =>
    c.pool_manager !== undefined && (c.pools.length > 0 || c.engines.length > 0)
      ? {
        path: ["pool_manager"],
        message: "set either pool_manager (remote) or engines and pools (embedded), not both"
      }
      : true
  )
)

/**
 * @since 0.1.0
 */
export type ConfigFile = typeof ConfigFile.Type

/**
 * The defaults of the daemon.
 *
 * @since 0.1.0
 */
export const defaults = {
  host: "127.0.0.1",
  port: 8080,
  tokenEnv: "ORCHESTRATORD_TOKEN",
  poolManagerTokenEnv: "POOL_MANAGERD_TOKEN",
  /** The systemd credentials (`LoadCredential=`) the tokens are read from when passed. */
  tokenCredential: "orchestratord.token",
  poolManagerTokenCredential: "pool-managerd.token"
} as const

/**
 * The engine and pool used when the file declares no pools: pool `mock-0` on the mock engine,
 * model `mock-model`, 4 slots, 50 tokens per second.
 *
 * @since 0.1.0
 */
export const mockPool = {
  engines: [{ name: "mock", mock: true, args: ["--tps", "50"] }],
  pools: [{ id: "mock-0", engine: "mock", model: "mock-model", slots: 4, ctx_max: 4096 }]
} as const
