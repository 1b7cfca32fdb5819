/**
 * orchestratord's configuration file (YAML, snake_case keys), validated with Schema. Three modes:
 *
 * - remote: `pool_manager: { url, token | token_file }` — pools live in a pool-managerd;
 * - embedded: `engines` and `pools` — orchestratord runs the engines itself;
 * - neither (or no file at all): one embedded pool `mock-0` on the mock engine, serving `mock-model`.
 *
 * @since 0.1.0
 */
import { QueuePolicy } from "@llama-orch/orchestrator-core"
import { DeviceMask, EngineProtocol, ModelRef, PoolId } from "@llama-orch/pool-core"
import * as Schema from "effect/Schema"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())
const Env = Schema.Record({ key: Schema.String, value: Schema.String })

/**
 * An engine profile in the file: how to run one kind of engine.
 *
 * @since 0.1.0
 */
export class EngineEntry extends Schema.Class<EngineEntry>("EngineEntry")({
  name: Schema.NonEmptyTrimmedString,
  protocol: EngineProtocol,
  command: Schema.NonEmptyString,
  args: Schema.optional(Schema.Array(Schema.String)),
  env: Schema.optional(Env),
  health_path: Schema.optional(Schema.String.pipe(Schema.startsWith("/"))),
  version_args: Schema.optional(Schema.Array(Schema.String))
}) {}

/**
 * A pool in the file: which engine profile, which model, how many slots.
 *
 * @since 0.1.0
 */
export class PoolEntry extends Schema.Class<PoolEntry>("PoolEntry")({
  id: PoolId,
  engine: Schema.NonEmptyTrimmedString,
  model: ModelRef,
  slots: Schema.optional(PositiveInt.pipe(Schema.lessThanOrEqualTo(1024))),
  ctx_max: Schema.optional(PositiveInt),
  device_mask: Schema.optional(DeviceMask),
  port: Schema.optional(Schema.Int.pipe(Schema.between(1, 65535))),
  env: Schema.optional(Env),
  startup_timeout_ms: Schema.optional(PositiveInt),
  preload: Schema.optional(Schema.Boolean)
}) {}

/**
 * The remote pool manager: a pool-managerd reached over RPC.
 *
 * @since 0.1.0
 */
export class RemotePoolManager extends Schema.Class<RemotePoolManager>("RemotePoolManager")({
  url: Schema.String.pipe(Schema.pattern(/^https?:\/\/\S+$/, { message: () => "an http:// or https:// URL" })),
  token: Schema.optional(Schema.String),
  token_file: Schema.optional(Schema.String)
}) {}

/**
 * Queueing and streaming settings of the orchestrator.
 *
 * @since 0.1.0
 */
export class QueueSection extends Schema.Class<QueueSection>("QueueSection")({
  capacity: Schema.optional(PositiveInt),
  policy: Schema.optional(QueuePolicy),
  first_token_timeout_ms: Schema.optional(PositiveInt),
  idle_timeout_ms: Schema.optional(PositiveInt),
  retention_ms: Schema.optional(PositiveInt),
  session_ttl_ms: Schema.optional(PositiveInt),
  session_max_turns: Schema.optional(PositiveInt),
  session_token_budget: Schema.optional(PositiveInt),
  allow_pinning: Schema.optional(Schema.Boolean)
}) {}

/**
 * The whole file. Every key is optional.
 *
 * @since 0.1.0
 */
export class ConfigFile extends Schema.Class<ConfigFile>("ConfigFile")(
  Schema.Struct({
    host: Schema.optional(Schema.NonEmptyTrimmedString),
    port: Schema.optional(Schema.Int.pipe(Schema.between(0, 65535))),
    token: Schema.optional(Schema.String),
    token_file: Schema.optional(Schema.String),
    log_level: Schema.optional(Schema.Literal("debug", "info", "warning", "error")),
    max_body_bytes: Schema.optional(PositiveInt),
    heartbeat_ms: Schema.optional(PositiveInt),
    openai_default_max_tokens: Schema.optional(PositiveInt),
    queue: Schema.optional(QueueSection),
    pool_manager: Schema.optional(RemotePoolManager),
    engines: Schema.optional(Schema.Array(EngineEntry)),
    pools: Schema.optional(Schema.Array(PoolEntry)),
    state_dir: Schema.optional(Schema.NonEmptyString),
    model_dir: Schema.optional(Schema.NonEmptyString),
    engine_host: Schema.optional(Schema.NonEmptyString),
    shutdown_deadline_ms: Schema.optional(NonNegativeInt),
    stop_grace_ms: Schema.optional(NonNegativeInt)
  }).pipe(
    Schema.filter((c) => {
      if (c.pool_manager !== undefined && (c.pools !== undefined || c.engines !== undefined)) {
        return { path: ["pool_manager"], message: "set either pool_manager (remote) or engines and pools (embedded)" }
      }
      const names = new Set((c.engines ?? []).map((e) => e.name))
      const bad = (c.pools ?? []).findIndex((p) => !names.has(p.engine))
      if (bad !== -1) {
        return { path: ["pools", bad, "engine"], message: `no engine profile named "${c.pools?.[bad]?.engine}"` }
      }
      const ids = (c.pools ?? []).map((p) => p.id)
      const dup = ids.findIndex((id, i) => ids.indexOf(id) !== i)
      return dup === -1 ? true : { path: ["pools", dup, "id"], message: `duplicate pool id "${ids[dup]}"` }
    })
  )
) {}

/**
 * The defaults of the daemon.
 *
 * @since 0.1.0
 */
export const defaults = {
  host: "127.0.0.1",
  port: 8080,
  tokenEnv: "ORCHESTRATORD_TOKEN",
  poolManagerTokenEnv: "POOL_MANAGERD_TOKEN"
} as const
