/**
 * The `PoolManager` orchestratord runs on, chosen by the configuration: remote (pool-client to a
 * pool-managerd), embedded (engines from the file), or the built-in mock pool when the file
 * declares neither.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { mockEngineCommand, mockEngineProfileArgs } from "@llama-orch/mock-engine"
import { PoolClient } from "@llama-orch/pool-client"
import { EmbeddedPoolManager, type PoolManager } from "@llama-orch/pool-core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type { ConfigFile } from "./Config.js"

/**
 * The mock engine's profile and pool used when nothing else is configured: pool `mock-0`, model
 * `mock-model`, 4 slots, 50 tokens per second.
 *
 * @since 0.1.0
 */
export const mockDefaults = (): Pick<typeof ConfigFile.Encoded, "engines" | "pools"> => {
  const { args, command } = mockEngineCommand()
  return {
    engines: [{
      name: "mock",
      protocol: "llamacpp",
      command,
      args: [...args, ...mockEngineProfileArgs, "--tps", "50"]
    }],
    pools: [{ id: "mock-0", engine: "mock", model: "mock-model", slots: 4, ctx_max: 4096 }]
  }
}

/**
 * How the pool manager is reached.
 *
 * @since 0.1.0
 */
export type PoolsMode =
  | { readonly _tag: "Remote"; readonly url: string; readonly token: Redacted.Redacted<string> | undefined }
  | { readonly _tag: "Embedded"; readonly config: ConfigFile }

/**
 * The mode a configuration asks for.
 *
 * @since 0.1.0
 */
export const modeOf = (config: ConfigFile, remoteToken: Redacted.Redacted<string> | undefined): PoolsMode =>
  config.pool_manager !== undefined
    ? { _tag: "Remote", url: config.pool_manager.url, token: remoteToken }
    : { _tag: "Embedded", config }

const embedded = (config: ConfigFile): Layer.Layer<PoolManager, PlatformError> => {
  const declared = config.pools !== undefined && config.pools.length > 0
  const { engines = [], pools = [] } = declared ? config : mockDefaults()
  return Layer.unwrapScoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const stateDir = config.state_dir ?? (yield* fs.makeTempDirectoryScoped({ prefix: "orchestratord-" }))
    return EmbeddedPoolManager.layer({
      profiles: engines.map((e) => ({
        name: e.name,
        protocol: e.protocol,
        command: e.command,
        ...(e.args === undefined ? {} : { args: e.args }),
        ...(e.env === undefined ? {} : { env: e.env }),
        ...(e.health_path === undefined ? {} : { healthPath: e.health_path }),
        ...(e.version_args === undefined ? {} : { versionArgs: e.version_args })
      })),
      pools: pools.map((p) => ({
        id: p.id,
        engine: p.engine,
        model: p.model,
        ...(p.slots === undefined ? {} : { slots: p.slots }),
        ...(p.ctx_max === undefined ? {} : { ctxMax: p.ctx_max }),
        ...(p.device_mask === undefined ? {} : { deviceMask: p.device_mask }),
        ...(p.port === undefined ? {} : { port: p.port }),
        ...(p.env === undefined ? {} : { env: p.env }),
        ...(p.startup_timeout_ms === undefined ? {} : { startupTimeoutMs: p.startup_timeout_ms }),
        ...(p.preload === undefined ? {} : { preload: p.preload })
      })),
      stateDir,
      ...(config.model_dir === undefined ? {} : { modelDir: config.model_dir }),
      ...(config.engine_host === undefined ? {} : { host: config.engine_host }),
      ...(config.shutdown_deadline_ms === undefined ? {} : { shutdownDeadlineMs: config.shutdown_deadline_ms }),
      ...(config.stop_grace_ms === undefined ? {} : { stopGraceMs: config.stop_grace_ms })
    })
  })).pipe(Layer.provide([NodeContext.layer, NodeHttpClient.layerUndici]))
}

/**
 * The `PoolManager` layer of a mode.
 *
 * @since 0.1.0
 */
export const layer = (mode: PoolsMode): Layer.Layer<PoolManager, PlatformError> =>
  mode._tag === "Remote"
    ? PoolClient.layer({ url: mode.url, token: mode.token }).pipe(Layer.provide(NodeHttpClient.layerUndici))
    : embedded(mode.config)
