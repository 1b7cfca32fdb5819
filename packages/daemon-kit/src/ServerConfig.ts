/**
 * The keys every daemon's configuration file shares — where to listen, the bearer token, the log
 * level, what the request guard lets through and the body limit — as Schema property signatures
 * that map the snake_case file keys onto camelCase fields, defaults included. A daemon spreads
 * them into its own `Schema.Struct` (in the order its unknown-key errors should list them):
 *
 * ```ts
 * const fields = ServerConfig.fields({ host: "127.0.0.1", port: 8080, maxBodyBytes: 1024 * 1024 })
 * const MyConfig = Schema.Struct({ ...fields, heartbeatMs: Schema.optional(Schema.Int).pipe(Schema.fromKey("heartbeat_ms")) })
 * // decodes { token_file: "/run/secret", allowed_hosts: ["llm.internal"] }
 * // into { host: "127.0.0.1", port: 8080, tokenFile: "/run/secret", allowedHosts: ["llm.internal"], allowedOrigins: [], maxBodyBytes: 1048576 }
 * ```
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { AllowedHost, AllowedOrigin } from "./RequestGuard.js"

const PositiveInt = Schema.Int.pipe(Schema.positive())

/**
 * The levels a file's `log_level` may name (`--log-level` wins over it).
 *
 * @category schemas
 * @since 0.1.0
 */
export const LogLevel = Schema.Literal("debug", "info", "warning", "error")

/**
 * A TCP port to listen on: `0` lets the system pick one.
 *
 * @category schemas
 * @since 0.1.0
 */
export const ListenPort = Schema.Int.pipe(Schema.between(0, 65535))

/**
 * The defaults a daemon gives the shared keys.
 *
 * @category models
 * @since 0.1.0
 */
export interface Defaults {
  readonly host: string
  readonly port: number
  readonly maxBodyBytes: number
}

/**
 * The shared keys, one property signature each: `host`, `port`, `token`, `token_file` (→
 * `tokenFile`), `log_level` (→ `logLevel`), `allowed_hosts`, `allowed_origins` (empty by default)
 * and `max_body_bytes`. `token`, `token_file` and `log_level` stay optional: the token is resolved
 * with `Secret.resolveSecret`, and the log level falls back to `--log-level` or `info`.
 *
 * @category utils
 * @since 0.1.0
 */
export const fields = (defaults: Defaults) => ({
  host: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => defaults.host }),
  port: Schema.optionalWith(ListenPort, { default: () => defaults.port }),
  token: Schema.optional(Schema.String),
  tokenFile: Schema.optional(Schema.NonEmptyString).pipe(Schema.fromKey("token_file")),
  logLevel: Schema.optional(LogLevel).pipe(Schema.fromKey("log_level")),
  allowedHosts: Schema.optionalWith(Schema.Array(AllowedHost), { default: () => [] }).pipe(
    Schema.fromKey("allowed_hosts")
  ),
  allowedOrigins: Schema.optionalWith(Schema.Array(AllowedOrigin), { default: () => [] }).pipe(
    Schema.fromKey("allowed_origins")
  ),
  maxBodyBytes: Schema.optionalWith(PositiveInt, { default: () => defaults.maxBodyBytes }).pipe(
    Schema.fromKey("max_body_bytes")
  )
})
