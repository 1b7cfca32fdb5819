/**
 * The `PoolManager` orchestratord runs on, chosen by the configuration: remote (pool-client to a
 * pool-managerd), embedded (engines and pools from the file, resolved exactly as pool-managerd
 * resolves its own file), or the built-in mock pool when the file declares neither.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Path from "@effect/platform/Path"
import type { ConfigFile as ConfigFiles } from "@llama-orch/daemon-kit"
import { PoolClient } from "@llama-orch/pool-client"
import { EmbeddedPoolManager, type PoolManager, type StateDirRefused } from "@llama-orch/pool-core"
import { Config as PoolManagerdConfig } from "@llama-orch/pool-managerd"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as NodeOs from "node:os"
import * as NodeProcess from "node:process"
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

/**
 * Where embedded pools keep their pidfiles when the file names no `state_dir`: a directory of this
 * user that outlives the process (`$XDG_STATE_HOME/llama-orch/orchestratord`, by default
 * `~/.local/state/llama-orch/orchestratord`), so engines a crashed run left behind are reaped at the
 * next start. Never the shared temporary directory, which another user could create first.
 *
 * @since 0.1.0
 */
export const defaultStateDir = (path: Path.Path): string => {
  const xdg = NodeProcess.env["XDG_STATE_HOME"]
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(NodeOs.homedir(), ".local", "state")
  return path.join(base, "llama-orch", "orchestratord")
}

const embedded = (
  config: ConfigFile,
  source: string
): Layer.Layer<PoolManager, ConfigFiles.ConfigError | StateDirRefused> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const path = yield* Path.Path
    const stateDir = config.state_dir ?? defaultStateDir(path)
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
export const layer = (mode: PoolsMode): Layer.Layer<PoolManager, ConfigFiles.ConfigError | StateDirRefused> =>
  mode._tag === "Remote"
    // the orchestrator follows the events itself (again every second): while they are down it
    // knows, and admission asks pool-managerd rather than trusting a stale view
    ? PoolClient.layer({ url: mode.url, token: mode.token, reconnect: false }).pipe(
      Layer.provide(NodeHttpClient.layerUndici)
    )
    : embedded(mode.config, mode.source)
