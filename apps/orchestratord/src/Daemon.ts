/**
 * The whole daemon as one layer: the pool manager (embedded or remote), the orchestrator over it,
 * and the HTTP API served with daemon-kit (listening line, shutdown signal for open streams).
 * Shutdown runs in reverse: the server stops admitting and ends open SSE streams with a final
 * event, then the orchestrator ends its tasks, then the pools drain and the engines stop.
 *
 * @since 0.1.0
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { RequestGuard, Serve } from "@llama-orch/daemon-kit"
import { NodeEngineTransport, Orchestrator } from "@llama-orch/orchestrator-core"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type { ConfigFile } from "./Config.js"
import { routes } from "./HttpServerLayer.js"
import * as PoolsLayer from "./PoolsLayer.js"
import * as ServerSettings from "./ServerSettings.js"

/**
 * Everything the daemon needs once the command line and the file are resolved.
 *
 * @since 0.1.0
 */
export interface DaemonOptions {
  readonly host: string
  readonly port: number
  readonly token: Redacted.Redacted<string> | undefined
  readonly poolManagerToken: Redacted.Redacted<string> | undefined
  readonly config: ConfigFile
  /** Names the configuration file in errors. */
  readonly source: string
}

const orchestratorOptions = (config: ConfigFile) => {
  const q = config.queue
  if (q === undefined) return {}
  return {
    ...(q.capacity === undefined ? {} : { queueCapacity: q.capacity }),
    ...(q.policy === undefined ? {} : { policy: q.policy }),
    ...(q.first_token_timeout_ms === undefined ? {} : { firstTokenTimeoutMs: q.first_token_timeout_ms }),
    ...(q.idle_timeout_ms === undefined ? {} : { idleTimeoutMs: q.idle_timeout_ms }),
    ...(q.retention_ms === undefined ? {} : { retentionMs: q.retention_ms }),
    ...(q.session_ttl_ms === undefined ? {} : { sessionTtlMs: q.session_ttl_ms }),
    ...(q.session_max_turns === undefined ? {} : { sessionMaxTurns: q.session_max_turns }),
    ...(q.session_token_budget === undefined ? {} : { sessionTokenBudget: q.session_token_budget }),
    ...(q.allow_pinning === undefined ? {} : { allowPinning: q.allow_pinning })
  }
}

/**
 * The daemon layer. Run it with `Layer.launch`.
 *
 * @since 0.1.0
 */
export const layer = (options: DaemonOptions) => {
  const pools = PoolsLayer.layer(PoolsLayer.modeOf(options.config, options.source, options.poolManagerToken))
  const core = Orchestrator.layer(orchestratorOptions(options.config)).pipe(
    Layer.provideMerge(pools),
    Layer.provide([NodeHttpClient.layerUndici, NodeEngineTransport.layer()])
  )
  const settings = ServerSettings.layer({
    token: options.token,
    guard: RequestGuard.make({
      bindHost: options.host,
      allowedHosts: options.config.allowed_hosts,
      allowedOrigins: options.config.allowed_origins,
      bodyTypes: ["application/json"]
    }),
    ...(options.config.max_body_bytes === undefined ? {} : { maxBodyBytes: options.config.max_body_bytes }),
    ...(options.config.heartbeat_ms === undefined ? {} : { heartbeatMs: options.config.heartbeat_ms }),
    ...(options.config.openai_default_max_tokens === undefined
      ? {}
      : { openAiDefaultMaxTokens: options.config.openai_default_max_tokens })
  })
  const embedded = options.config.pool_manager === undefined
  return Serve.layer(routes({ poolMetrics: embedded }), { host: options.host, port: options.port }).pipe(
    Layer.provide(core),
    Layer.provide(settings)
  )
}
