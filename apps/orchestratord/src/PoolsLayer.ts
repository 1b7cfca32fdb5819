/**
 * The `PoolManager` orchestratord runs on, chosen by the configuration: remote (pool-client to a
 * pool-managerd), embedded (engines and pools from the file, resolved exactly as pool-managerd
 * resolves its own file), or the built-in mock pool when the file declares neither.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import type { ConfigFile as ConfigFiles } from "@llama-orch/daemon-kit"
import { PoolClient } from "@llama-orch/pool-client"
import { EmbeddedPoolManager, type PoolManager } from "@llama-orch/pool-core"
import { Config as PoolManagerdConfig } from "@llama-orch/pool-managerd"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { type ConfigFile, EmbeddedSection, mockPool } from "./Config.js"
import { apiVersion } from "./ServerSettings.js"

/**
 * How the pool manager is reached.
 *
 * @since 0.1.0
 */
export type PoolsMode =
  | { readonly _tag: "Remote"; readonly url: string; readonly token: Redacted.Redacted<string> | undefined }
  | { readonly _tag: "Embedded"; readonly config: ConfigFile; readonly source: string }

/**
 * The mode a configuration asks for.
 *
 * @since 0.1.0
 */
export const modeOf = (
  config: ConfigFile,
  source: string,
  remoteToken: Redacted.Redacted<string> | undefined
): PoolsMode =>
  config.pool_manager !== undefined
    ? { _tag: "Remote", url: config.pool_manager.url, token: remoteToken }
    : { _tag: "Embedded", config, source }

const embedded = (
  config: ConfigFile,
  source: string
): Layer.Layer<PoolManager, PlatformError | ConfigFiles.ConfigError> =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const stateDir = config.state_dir ?? (yield* fs.makeTempDirectoryScoped({ prefix: "orchestratord-" }))
    const section = Schema.encodeSync(EmbeddedSection)(config)
    const declared = config.pools.length > 0 ? section : { ...section, ...mockPool }
    const pmConfig = Schema.decodeUnknownSync(PoolManagerdConfig.PoolManagerdConfig)(declared)
    const settings = yield* PoolManagerdConfig.resolve(
      pmConfig,
      { host: Option.none(), port: Option.none(), stateDir: Option.some(stateDir) },
      source,
      apiVersion
    )
    return EmbeddedPoolManager.layer(settings.manager)
  })).pipe(Layer.provide([NodeContext.layer, NodeHttpClient.layerUndici]))

/**
 * The `PoolManager` layer of a mode.
 *
 * @since 0.1.0
 */
export const layer = (mode: PoolsMode): Layer.Layer<PoolManager, PlatformError | ConfigFiles.ConfigError> =>
  mode._tag === "Remote"
    // events reconnect within 2 s of pool-managerd's return (default cap 10 s): the pool view
    // the orchestrator places tasks with is only as fresh as they are
    ? PoolClient.layer({ url: mode.url, token: mode.token, reconnect: { cap: "2 seconds" } }).pipe(
      Layer.provide(NodeHttpClient.layerUndici)
    )
    : embedded(mode.config, mode.source)
