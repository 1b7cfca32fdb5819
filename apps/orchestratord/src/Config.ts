/**
 * orchestratord's configuration file (YAML, snake_case keys), decoded with Schema onto camelCase
 * fields and the options classes they configure, then resolved with the flags and secrets into
 * `Settings`. Three modes:
 *
 * - remote: `pool_manager: { url, token | token_file }` — pools live in a pool-managerd;
 * - embedded: `engines` and `pools` — orchestratord runs the engines itself. These keys (and
 *   `state_dir`, `model_dir`, `engine_host`, `shutdown_deadline_ms`, `stop_grace_ms`,
 *   `startup_timeout_ms`, `probe_timeout_ms`, `liveness`, `restart`) are read by pool-daemon's
 *   `PoolsConfig`, as pool-managerd reads them, so a pool-managerd file's engine and pool sections
 *   can be moved over unchanged;
 * - neither (or no file at all): one embedded pool `mock-0` on the mock engine, serving `mock-model`.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { ConfigFile as ConfigFiles, Secret, ServerConfig } from "@llama-orch/daemon-kit"
import { OrchestratorOptions } from "@llama-orch/orchestrator-core"
import type { PoolCluster } from "@llama-orch/pool-client"
import { type EmbeddedPoolManager, PoolId, PoolIdPattern, PoolSpec } from "@llama-orch/pool-core"
import { type ConfigPlan, PoolsConfig } from "@llama-orch/pool-daemon"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as NodeNet from "node:net"
import * as NodeOs from "node:os"
import * as NodeProcess from "node:process"
import * as ServerSettings from "./ServerSettings.js"

const PositiveInt = Schema.Int.pipe(Schema.positive())

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
 * The remote pool manager: a pool-managerd reached over RPC.
 *
 * @since 0.1.0
 */
export const RemotePoolManager = Schema.Struct({
  url: Schema.String.pipe(Schema.pattern(/^https?:\/\/\S+$/, { message: () => "an http:// or https:// URL" })),
  token: Schema.optional(Schema.String),
  tokenFile: Schema.optional(Schema.NonEmptyString).pipe(Schema.fromKey("token_file"))
})

const Url = Schema.String.pipe(Schema.pattern(/^https?:\/\/\S+$/, { message: () => "an http:// or https:// URL" }))

/**
 * One node of a cluster (`pool_managers[]`): a name (the prefix of its pools' ids), its
 * pool-managerd, and its token (`token`/`token_file`, or env `POOL_MANAGERD_TOKEN_<NAME>`, else
 * the cluster's `POOL_MANAGERD_TOKEN`).
 *
 * @since 0.1.0
 */
export const ClusterNode = Schema.Struct({
  name: Schema.String.pipe(Schema.pattern(PoolIdPattern, {
    message: () => "a node name is 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
  })),
  url: Url,
  token: Schema.optional(Schema.String),
  tokenFile: Schema.optional(Schema.NonEmptyString).pipe(Schema.fromKey("token_file"))
})

/**
 * A DNS server to ask: an IP address, with an optional port (`10.96.0.10`, `127.0.0.1:5353`,
 * `::1`, `[::1]:5353`).
 *
 * @since 0.1.0
 */
export const DnsServer = Schema.String.pipe(Schema.filter((server) => {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(server)
  const plain = /^([^:]+)(?::(\d+))?$/.exec(server)
  const [host, port, family] = bracketed !== null
    ? [bracketed[1], bracketed[2], 6]
    : plain !== null
    ? [plain[1], plain[2], 4]
    : [server, undefined, 6]
  const portOk = port === undefined || (Number(port) >= 1 && Number(port) <= 65535)
  return (portOk && NodeNet.isIP(host ?? "") === family) ||
    `a DNS server is an IP address with an optional port (127.0.0.1:5353, [::1]:53), not ${JSON.stringify(server)}`
}))

/**
 * Nodes found in DNS (`discovery`): the A/AAAA records of `dns` (a headless Service), each an
 * address of a pool-managerd on `port`, resolved again every `interval_ms`, asking `servers` (by
 * default the system's resolver).
 *
 * @since 0.1.0
 */
export const DiscoverySection = Schema.Struct({
  dns: Schema.NonEmptyTrimmedString,
  servers: Schema.optional(Schema.Array(DnsServer).pipe(Schema.minItems(1))),
  port: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 65535)), { default: () => 9200 }),
  intervalMs: Schema.optionalWith(PositiveInt, { default: () => 5_000 }).pipe(Schema.fromKey("interval_ms")),
  token: Schema.optional(Schema.String),
  tokenFile: Schema.optional(Schema.NonEmptyString).pipe(Schema.fromKey("token_file"))
})

const queue = OrchestratorOptions.fields

/**
 * The `queue` section — queueing, streaming and session settings — decoded into the orchestrator's
 * `OrchestratorOptions` (its defaults where a key is not given).
 *
 * @since 0.1.0
 */
export const QueueSection = Schema.Struct({
  queueCapacity: queue.queueCapacity.pipe(Schema.fromKey("capacity")),
  policy: queue.policy,
  firstTokenTimeoutMs: queue.firstTokenTimeoutMs.pipe(Schema.fromKey("first_token_timeout_ms")),
  idleTimeoutMs: queue.idleTimeoutMs.pipe(Schema.fromKey("idle_timeout_ms")),
  retentionMs: queue.retentionMs.pipe(Schema.fromKey("retention_ms")),
  sessionTtlMs: queue.sessionTtlMs.pipe(Schema.fromKey("session_ttl_ms")),
  sessionMaxTurns: queue.sessionMaxTurns.pipe(Schema.fromKey("session_max_turns")),
  sessionTokenBudget: queue.sessionTokenBudget.pipe(Schema.fromKey("session_token_budget")),
  allowPinning: queue.allowPinning.pipe(Schema.fromKey("allow_pinning")),
  maxLoadWaitMs: queue.maxLoadWaitMs.pipe(Schema.fromKey("max_load_wait_ms")),
  modelAgingMs: queue.modelAgingMs.pipe(Schema.fromKey("model_aging_ms"))
}).pipe(Schema.compose(OrchestratorOptions))

const server = ServerConfig.fields({ ...defaults, maxBodyBytes: ServerSettings.defaults.maxBodyBytes })

/**
 * The whole file. Every key is optional.
 *
 * @since 0.1.0
 */
export const ConfigFile = Schema.Struct({
  ...server,
  heartbeatMs: Schema.optionalWith(PositiveInt, { default: () => ServerSettings.defaults.heartbeatMs }).pipe(
    Schema.fromKey("heartbeat_ms")
  ),
  openAiDefaultMaxTokens: Schema.optionalWith(PositiveInt, {
    default: () => ServerSettings.defaults.openAiDefaultMaxTokens
  }).pipe(Schema.fromKey("openai_default_max_tokens")),
  orchestrator: Schema.optionalWith(QueueSection, { default: () => OrchestratorOptions.make({}) }).pipe(
    Schema.fromKey("queue")
  ),
  poolManager: Schema.optional(RemotePoolManager).pipe(Schema.fromKey("pool_manager")),
  poolManagers: Schema.optional(Schema.Array(ClusterNode).pipe(Schema.minItems(1))).pipe(
    Schema.fromKey("pool_managers")
  ),
  discovery: Schema.optional(DiscoverySection),
  leaseHoldMs: Schema.optional(Schema.Int.pipe(Schema.nonNegative())).pipe(Schema.fromKey("lease_hold_ms")),
  ...PoolsConfig.fields
}).pipe(
  Schema.filter((c) => {
    const cluster = c.poolManagers !== undefined || c.discovery !== undefined
    if (c.poolManager !== undefined && cluster) {
      return {
        path: ["pool_manager"],
        message: "set either pool_manager (one node) or pool_managers/discovery (a cluster), not both"
      }
    }
    if ((c.poolManager !== undefined || cluster) && (c.pools.length > 0 || c.profiles.length > 0)) {
      const key = c.poolManager !== undefined
        ? "pool_manager"
        : c.poolManagers !== undefined
        ? "pool_managers"
        : "discovery"
      return { path: [key], message: `set either ${key} (remote) or engines and pools (embedded), not both` }
    }
    if (c.leaseHoldMs !== undefined && !cluster) {
      return { path: ["lease_hold_ms"], message: "lease_hold_ms applies to a cluster: set pool_managers or discovery" }
    }
    const names = (c.poolManagers ?? []).map((n) => n.name)
    const twice = names.find((name, i) => names.indexOf(name) !== i)
    return twice === undefined ? true : { path: ["pool_managers"], message: `node ${twice} is named twice` }
  }),
  Schema.filter(PoolsConfig.checkReferences)
)

/**
 * A value of the `ConfigFile` schema.
 *
 * @since 0.1.0
 */
export type ConfigFile = typeof ConfigFile.Type

/**
 * The engine and pool used when the file declares no pools and no models: pool `mock-0` on the mock engine,
 * model `mock-model`, 4 slots, 50 tokens per second.
 *
 * @since 0.1.0
 */
export const mockPool = (): Pick<PoolsConfig.References, "profiles" | "pools"> => ({
  profiles: [PoolsConfig.mockProfile({ name: "mock", protocol: "llamacpp", args: ["--tps", "50"] })],
  pools: [PoolSpec.make({ id: PoolId.make("mock-0"), engine: "mock", model: "mock-model", slots: 4, ctxMax: 4096 })]
})

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

/**
 * How the pool manager is reached: a pool-managerd over RPC, or engines run by this process.
 *
 * @since 0.1.0
 */
export type PoolsMode =
  | { readonly _tag: "Remote"; readonly url: string; readonly token: Option.Option<Redacted.Redacted<string>> }
  | { readonly _tag: "Cluster"; readonly options: PoolCluster.Options }
  | { readonly _tag: "Embedded"; readonly options: EmbeddedPoolManager.EmbeddedOptions }

/**
 * Command-line flags that override the file.
 *
 * @since 0.1.0
 */
export interface Overrides {
  readonly host: Option.Option<string>
  readonly port: Option.Option<number>
}

/**
 * Everything the daemon needs to start.
 *
 * @since 0.1.0
 */
export interface Settings {
  readonly host: string
  readonly port: number
  readonly token: Option.Option<Redacted.Redacted<string>>
  /** Host names served besides loopback ones (`allowed_hosts`). */
  readonly allowedHosts: ReadonlyArray<string>
  /** Browser origins allowed to call the API (`allowed_origins`). */
  readonly allowedOrigins: ReadonlyArray<string>
  readonly maxBodyBytes: number
  readonly heartbeatMs: number
  readonly openAiDefaultMaxTokens: number
  /** The file's `log_level`, if set (`--log-level` wins over it; default `info`). */
  readonly logLevel: typeof ServerConfig.LogLevel.Type | undefined
  readonly orchestrator: OrchestratorOptions
  readonly pools: PoolsMode
  /** The configuration file (`--config`), read again on a reload. */
  readonly file: Option.Option<string>
  /** What a reload compares the file with: the pools, engines and start-only settings of this start. */
  readonly reload: ConfigPlan.Inputs
}

const encodeConfig = Schema.encodeSync(ConfigFile)

/** The keys a reload applies to embedded pools; every other key only applies at start. */
const poolKeys: ReadonlySet<string> = new Set(["engines", "pools", "reload"])

/** Whether the file runs its pools in this process (no `pool_manager`, `pool_managers`, `discovery`). */
const isEmbedded = (config: ConfigFile): boolean =>
  config.poolManager === undefined && config.poolManagers === undefined && config.discovery === undefined

/**
 * What a reload compares. With embedded pools (and a file that still embeds them) the file's
 * engines and pools (or the mock pool) are applied and every other key is a setting that needs a
 * restart. Over a remote pool-managerd or a cluster, and when the file switches modes, every key
 * is such a setting and the pools in force (`inForce`) are kept.
 *
 * @since 0.1.0
 */
export const reloadInputs = (
  config: ConfigFile,
  embedded: boolean,
  inForce: Pick<ConfigPlan.Inputs, "profiles" | "pools" | "reload">
): ConfigPlan.Inputs => {
  const applied = embedded && isEmbedded(config)
  const declared = config.pools.length > 0 ? config : { ...config, ...mockPool() }
  return {
    ...(applied ? { profiles: declared.profiles, pools: declared.pools, reload: config.reload } : inForce),
    settings: Object.fromEntries(
      Object.entries(encodeConfig(config)).filter(([key]) => !(embedded && poolKeys.has(key)))
    )
  }
}

/**
 * Reads the file again for a reload (a `ConfigError` when it is invalid, or when the daemon started
 * without one).
 *
 * @since 0.1.0
 */
export const reloadFile = (
  file: Option.Option<string>,
  embedded: boolean,
  inForce: ConfigPlan.Inputs
): Effect.Effect<ConfigPlan.Inputs, ConfigFiles.ConfigError, FileSystem.FileSystem> =>
  Option.match(file, {
    onNone: () =>
      ConfigFiles.configError(
        "command line",
        "--config",
        "orchestratord started without a file: there is none to reload"
      ),
    onSome: (path) =>
      Effect.map(ConfigFiles.loadYamlFile(ConfigFile, path), (config) => reloadInputs(config, embedded, inForce))
  })

/** A node's env variable: `POOL_MANAGERD_TOKEN_GPU_A` for node `gpu-a`. */
const nodeTokenEnv = (name: string): string =>
  `${defaults.poolManagerTokenEnv}_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`

/** The cluster's nodes and discovery with their tokens resolved. */
const clusterOptions = (config: ConfigFile, source: string) =>
  Effect.gen(function*() {
    // the cluster's own token: what a node without one of its own, and discovered nodes, use
    const shared = yield* Secret.resolveSecret({
      key: "discovery.token",
      env: defaults.poolManagerTokenEnv,
      credential: defaults.poolManagerTokenCredential,
      value: config.discovery?.token,
      file: config.discovery?.tokenFile,
      source
    })
    const nodes = yield* Effect.forEach(config.poolManagers ?? [], (node, i) =>
      Effect.map(
        Secret.resolveSecret({
          key: `pool_managers.${i}.token`,
          env: nodeTokenEnv(node.name),
          value: node.token,
          file: node.tokenFile,
          source
        }),
        (own) => ({ name: node.name, url: node.url, token: Option.getOrUndefined(Option.orElse(own, () => shared)) })
      ))
    const discovery = config.discovery
    return {
      nodes,
      ...(config.leaseHoldMs === undefined ? {} : { multi: { leaseHoldMs: config.leaseHoldMs } }),
      ...(discovery === undefined ? {} : {
        discovery: {
          dns: discovery.dns,
          port: discovery.port,
          intervalMs: discovery.intervalMs,
          servers: discovery.servers,
          token: Option.getOrUndefined(shared)
        }
      })
    } satisfies PoolCluster.Options
  })

const poolsMode = (config: ConfigFile, source: string) =>
  Effect.gen(function*() {
    if (config.poolManager !== undefined) {
      const token = yield* Secret.resolveSecret({
        key: "pool_manager.token",
        env: defaults.poolManagerTokenEnv,
        credential: defaults.poolManagerTokenCredential,
        value: config.poolManager.token,
        file: config.poolManager.tokenFile,
        source
      })
      return { _tag: "Remote", url: config.poolManager.url, token } as const
    }
    if (config.poolManagers !== undefined || config.discovery !== undefined) {
      return { _tag: "Cluster", options: yield* clusterOptions(config, source) } as const
    }
    const path = yield* Path.Path
    const declared = config.pools.length > 0 || config.models.length > 0 ? config : { ...config, ...mockPool() }
    const stateDir = config.stateDir ?? defaultStateDir(path)
    return {
      _tag: "Embedded",
      options: PoolsConfig.embeddedOptions(declared, { stateDir, version: ServerSettings.apiVersion })
    } as const
  })

/**
 * Turns a decoded file and the flags into `Settings`: resolves the tokens (`ORCHESTRATORD_TOKEN`,
 * `ORCHESTRATORD_TOKEN_FILE`, the systemd credential `orchestratord.token`, `token`, `token_file`;
 * for `pool_manager` the same with `POOL_MANAGERD_TOKEN` and `pool-managerd.token`) and settles the
 * pools: remote, declared, or the mock pool. `source` names the file in errors.
 *
 * @since 0.1.0
 */
export const resolve = (
  config: ConfigFile,
  overrides: Overrides,
  source: string,
  file: Option.Option<string> = Option.none()
): Effect.Effect<Settings, ConfigFiles.ConfigError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const token = yield* Secret.resolveSecret({
      key: "token",
      env: defaults.tokenEnv,
      credential: defaults.tokenCredential,
      value: config.token,
      file: config.tokenFile,
      source
    })
    return {
      host: Option.getOrElse(overrides.host, () => config.host),
      port: Option.getOrElse(overrides.port, () => config.port),
      token,
      allowedHosts: config.allowedHosts,
      allowedOrigins: config.allowedOrigins,
      maxBodyBytes: config.maxBodyBytes,
      heartbeatMs: config.heartbeatMs,
      openAiDefaultMaxTokens: config.openAiDefaultMaxTokens,
      logLevel: config.logLevel,
      orchestrator: config.orchestrator,
      pools: yield* poolsMode(config, source),
      file,
      reload: reloadInputs(config, isEmbedded(config), { profiles: [], pools: [], reload: config.reload })
    }
  })

/**
 * Reads and resolves the configuration: the file when given (otherwise every default: the mock
 * pool), then the flags.
 *
 * @since 0.1.0
 */
export const load = (
  file: Option.Option<string>,
  overrides: Overrides
): Effect.Effect<Settings, ConfigFiles.ConfigError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const source = Option.getOrElse(file, () => "the built-in defaults")
    const config = yield* Option.match(file, {
      onNone: () => ConfigFiles.decodeConfig(ConfigFile, {}, source),
      onSome: (path) => ConfigFiles.loadYamlFile(ConfigFile, path)
    })
    return yield* resolve(config, overrides, source, file)
  })
