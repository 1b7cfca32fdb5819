/**
 * The whole daemon as one layer: bind safety, the pool manager (embedded or remote), the
 * orchestrator over it, and the HTTP API served with daemon-kit (listening line, shutdown signal for
 * open streams). Shutdown runs in reverse: the server stops admitting and ends open SSE streams with
 * a final event, then the orchestrator ends its tasks, then the pools drain and the engines stop.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import { BindSafety, RequestGuard, Serve } from "@llama-orch/daemon-kit"
import { NodeEngineTransport, Orchestrator } from "@llama-orch/orchestrator-core"
import type { StateDirRefused } from "@llama-orch/pool-core"
import { ConfigReload } from "@llama-orch/pool-daemon"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { defaults, reloadFile, type Settings } from "./Config.js"
import { routes } from "./HttpServerLayer.js"
import * as PoolsLayer from "./PoolsLayer.js"
import * as ServerSettings from "./ServerSettings.js"

/**
 * How to configure a token, for the bind-safety message.
 *
 * @since 0.1.0
 */
export const tokenHint = `token, token_file, ${defaults.tokenEnv} or the ${defaults.tokenCredential} credential`

/**
 * The daemon: checks bind safety, then builds the pools and the orchestrator and serves the API. Run
 * it with `Layer.launch`.
 *
 * @since 0.1.0
 */
export const layer = (
  settings: Settings
): Layer.Layer<
  never,
  BindSafety.BindRefused | RequestGuard.WildcardOriginRefused | StateDirRefused | HttpServerError.ServeError
> => {
  const core = Orchestrator.layer(settings.orchestrator).pipe(
    Layer.provideMerge(PoolsLayer.layer(settings.pools)),
    Layer.provide([NodeHttpClient.layerUndici, NodeEngineTransport.layer()])
  )
  const server = ServerSettings.layer({
    token: Option.getOrUndefined(settings.token),
    guard: RequestGuard.make({
      bindHost: settings.host,
      allowedHosts: settings.allowedHosts,
      allowedOrigins: settings.allowedOrigins,
      bodyTypes: ["application/json"]
    }),
    maxBodyBytes: settings.maxBodyBytes,
    heartbeatMs: settings.heartbeatMs,
    openAiDefaultMaxTokens: settings.openAiDefaultMaxTokens
  })
  const checked = Layer.effectDiscard(Effect.zipRight(
    BindSafety.ensureBindAllowed(settings.host, settings.token, tokenHint),
    RequestGuard.ensureOriginsAllowed(settings.allowedOrigins, settings.token, tokenHint)
  ))
  const pools = settings.pools
  const embedded = pools._tag === "Embedded"
  const reloader = ConfigReload.layer({
    source: Option.getOrElse(settings.file, () => "no file"),
    load: (inForce) => reloadFile(settings.file, embedded, inForce),
    initial: settings.reload,
    deadlineMs: embedded ? pools.options.shutdownDeadlineMs : 0,
    metricPrefix: "orchestratord",
    onHangup: true
  }).pipe(Layer.provide(NodeContext.layer))
  const started = Layer.effectDiscard(
    pools._tag === "Remote"
      ? Effect.logInfo("Starting orchestratord against a remote pool manager.").pipe(
        Effect.annotateLogs({ pool_manager: pools.url })
      )
      : pools._tag === "Cluster"
      ? Effect.logInfo("Starting orchestratord over a cluster of pool managers.").pipe(
        Effect.annotateLogs({
          pool_manager: "cluster",
          nodes: (pools.options.nodes ?? []).map((n) => n.name).join(","),
          ...(pools.options.discovery === undefined ? {} : { discovery: pools.options.discovery.dns })
        })
      )
      : Effect.logInfo("Starting orchestratord with embedded pools.").pipe(
        Effect.annotateLogs({ pool_manager: "embedded" })
      )
  )
  return Serve.layer(routes({ poolMetrics: pools._tag === "Embedded", nodeMetrics: pools._tag === "Cluster" }), {
    host: settings.host,
    port: settings.port
  })
    .pipe(
      Layer.provide(reloader),
      Layer.provide(core),
      Layer.provide(server),
      Layer.provide(started),
      Layer.provide(checked)
    )
}
