/**
 * The engines and pools of a daemon's configuration file and the keys of the embedded pool manager
 * that runs them, snake_case in the file, decoded by Schema straight onto pool-core's
 * `EngineProfile`, `PoolSpec`, `LivenessOptions` and `RestartOptions` (with their defaults), then
 * made into `EmbeddedOptions` by `embeddedOptions`. pool-managerd and orchestratord (embedded mode)
 * read these keys alike, so a file's `engines` and `pools` move from one to the other unchanged.
 *
 * ```ts
 * const File = Schema.Struct(PoolsConfig.fields).pipe(Schema.filter(PoolsConfig.checkReferences))
 * const section = yield* ConfigFile.loadYamlFile(File, "pools.yaml")
 * const options = PoolsConfig.embeddedOptions(section, { stateDir: section.stateDir ?? "./state", version: "1.0.0" })
 * ```
 *
 * @since 0.1.0
 */
import { mockEngineProfile } from "@llama-orch/mock-engine"
import {
  CatalogModel,
  Devices,
  EmbeddedPoolManager,
  EngineProfile,
  PoolSpec,
  ReloadStrategy
} from "@llama-orch/pool-core"
import * as Schema from "effect/Schema"
import * as Struct from "effect/Struct"

const { EmbeddedOptions, LivenessOptions, RestartOptions } = EmbeddedPoolManager

/** The manager's own defaults, read from `EmbeddedOptions` so that they are stated once, there. */
const managerDefaults = () => EmbeddedOptions.make({ profiles: [], stateDir: "." })

const profile = EngineProfile.fields

/** An engine entry as written, before it becomes a profile. */
const EngineEntryFields = Schema.Struct({
  name: profile.name,
  mock: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  protocol: Schema.optionalWith(profile.protocol, { default: () => "llamacpp" as const }),
  command: Schema.optional(profile.command),
  args: profile.args,
  env: profile.env,
  healthPath: profile.healthPath.pipe(Schema.fromKey("health_path")),
  versionArgs: profile.versionArgs.pipe(Schema.fromKey("version_args"))
}).pipe(
  Schema.filter((entry) =>
    entry.mock && entry.command !== undefined
      ? { path: ["command"], message: "a mock engine has no command (remove mock or command)" }
      : !entry.mock && entry.command === undefined
      ? { path: ["command"], message: "is missing (or set mock: true)" }
      : undefined
  )
)

/**
 * A profile that runs the mock engine of `@llama-orch/mock-engine` with the current Node binary:
 * its program, the profile's argument template and then `args` (extra mock-engine flags such as
 * `["--tps", "50"]`). The engine reads its API key from `LLAMA_API_KEY`, like llama-server: out of
 * the process list.
 *
 * @category utils
 * @since 0.1.0
 */
export const mockProfile = (
  entry: Omit<ConstructorParameters<typeof EngineProfile>[0], "command">
): EngineProfile =>
  mockEngineProfile({
    name: entry.name,
    protocol: entry.protocol,
    args: entry.args,
    env: entry.env,
    healthPath: entry.healthPath,
    versionArgs: entry.versionArgs
  })

/**
 * One engine profile in the file, decoded into an `EngineProfile`. With `mock: true` it is
 * `mockProfile(entry)` (no `command`; `args` are extra mock-engine flags such as
 * `["--load-ms", "200"]`).
 *
 * @category schemas
 * @since 0.1.0
 */
export const EngineEntry = Schema.transform(EngineEntryFields, Schema.typeSchema(EngineProfile), {
  strict: true,
  // the filter lets `command` be absent only with `mock: true`
  decode: ({ command, mock: _mock, ...entry }) =>
    command === undefined ? mockProfile(entry) : EngineProfile.make({ ...entry, command }),
  encode: (engine) => ({ ...engine, mock: false })
})

const spec = PoolSpec.fields

/**
 * One pool in the file: a `PoolSpec` with snake_case keys (`ctx_max`, `device_mask`,
 * `startup_timeout_ms`, `model_id`).
 *
 * @category schemas
 * @since 0.1.0
 */
export const PoolEntry = Schema.Struct({
  ...spec,
  ctxMax: spec.ctxMax.pipe(Schema.fromKey("ctx_max")),
  deviceMask: spec.deviceMask.pipe(Schema.fromKey("device_mask")),
  startupTimeoutMs: spec.startupTimeoutMs.pipe(Schema.fromKey("startup_timeout_ms")),
  modelId: spec.modelId.pipe(Schema.fromKey("model_id"))
}).pipe(Schema.compose(PoolSpec))

const model = CatalogModel.fields

/**
 * One model of the catalog (`models:`): a `CatalogModel` with snake_case keys (`ctx_max`,
 * `footprint_mb`, `idle_ttl_ms`, `keep_loaded`, `min_residency_ms`).
 *
 * @category schemas
 * @since 0.1.0
 */
export const ModelEntry = Schema.Struct({
  ...model,
  ctxMax: model.ctxMax.pipe(Schema.fromKey("ctx_max")),
  footprintMb: model.footprintMb.pipe(Schema.fromKey("footprint_mb")),
  idleTtlMs: model.idleTtlMs.pipe(Schema.fromKey("idle_ttl_ms")),
  keepLoaded: model.keepLoaded.pipe(Schema.fromKey("keep_loaded")),
  minResidencyMs: model.minResidencyMs.pipe(Schema.fromKey("min_residency_ms"))
}).pipe(Schema.compose(CatalogModel))

/**
 * One device of `devices:` (`id`, `memory_mb`), decoded into a `Devices.Device`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const DeviceEntry = Schema.Struct({
  id: Devices.Device.fields.id,
  memoryMb: Schema.propertySignature(Devices.Device.fields.memoryMb).pipe(Schema.fromKey("memory_mb"))
}).pipe(Schema.compose(Devices.Device))

const liveness = LivenessOptions.fields

/**
 * The `liveness` section (`interval_ms`, `failures`), decoded into `LivenessOptions`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const LivenessSection = Schema.Struct({
  intervalMs: liveness.intervalMs.pipe(Schema.fromKey("interval_ms")),
  failures: liveness.failures
}).pipe(Schema.compose(LivenessOptions))

const restart = RestartOptions.fields

/**
 * The `restart` section (`base_ms`, `max_ms`, `jitter`, `reset_after_ms`, `max_failures`,
 * `window_ms`), decoded into `RestartOptions`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const RestartSection = Schema.Struct({
  baseMs: restart.baseMs.pipe(Schema.fromKey("base_ms")),
  maxMs: restart.maxMs.pipe(Schema.fromKey("max_ms")),
  jitter: restart.jitter,
  resetAfterMs: restart.resetAfterMs.pipe(Schema.fromKey("reset_after_ms")),
  maxFailures: restart.maxFailures.pipe(Schema.fromKey("max_failures")),
  windowMs: restart.windowMs.pipe(Schema.fromKey("window_ms"))
}).pipe(Schema.compose(RestartOptions))

/**
 * The `reload` section: how a configuration reload moves a pool whose model alone changed
 * (`strategy`: `replace`, the default, drains the old engine first; `surge` starts the new one
 * beside it) and how long a changed or removed pool's leases may run before its engine is stopped
 * (`deadline_ms`, default `shutdown_deadline_ms`).
 *
 * @category schemas
 * @since 0.1.0
 */
export const ReloadSection = Schema.Struct({
  strategy: Schema.optionalWith(ReloadStrategy, { default: () => "replace" as const }),
  deadlineMs: Schema.optional(Schema.Int.pipe(Schema.nonNegative())).pipe(Schema.fromKey("deadline_ms"))
})

/**
 * The decoded `reload` section.
 *
 * @category models
 * @since 0.1.0
 */
export type ReloadSettings = typeof ReloadSection.Type

const options = EmbeddedOptions.fields

/**
 * The manager's keys, one property signature each, in the order a file lists them: `state_dir`
 * (optional: each daemon has its own default), `model_dir`, `engine_host`, `shutdown_deadline_ms`,
 * `stop_grace_ms`, `startup_timeout_ms`, `probe_timeout_ms`, `liveness`, `restart`, `engines`
 * (→ `profiles`), `pools`, the model catalog (`models`, `devices`, `default_idle_ttl_ms`,
 * `default_min_residency_ms`, `cancel_abandoned_loads`) and `reload` (how a configuration reload
 * restarts pools). Every other default is `EmbeddedOptions`'.
 *
 * @category utils
 * @since 0.1.0
 */
export const fields = {
  stateDir: Schema.optional(options.stateDir).pipe(Schema.fromKey("state_dir")),
  modelDir: options.modelDir.pipe(Schema.fromKey("model_dir")),
  engineHost: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => managerDefaults().host }).pipe(
    Schema.fromKey("engine_host")
  ),
  shutdownDeadlineMs: options.shutdownDeadlineMs.pipe(Schema.fromKey("shutdown_deadline_ms")),
  stopGraceMs: options.stopGraceMs.pipe(Schema.fromKey("stop_grace_ms")),
  startupTimeoutMs: options.startupTimeoutMs.pipe(Schema.fromKey("startup_timeout_ms")),
  probeTimeoutMs: options.probeTimeoutMs.pipe(Schema.fromKey("probe_timeout_ms")),
  liveness: Schema.optionalWith(LivenessSection, { default: () => LivenessOptions.make({}) }),
  restart: Schema.optionalWith(RestartSection, { default: () => RestartOptions.make({}) }),
  profiles: Schema.optionalWith(Schema.Array(EngineEntry), { default: () => [] }).pipe(Schema.fromKey("engines")),
  pools: Schema.optionalWith(Schema.Array(PoolEntry), { default: () => [] }),
  models: Schema.optionalWith(Schema.Array(ModelEntry), { default: () => [] }),
  devices: Schema.optional(Schema.Array(DeviceEntry)),
  defaultIdleTtlMs: options.defaultIdleTtlMs.pipe(Schema.fromKey("default_idle_ttl_ms")),
  defaultMinResidencyMs: options.defaultMinResidencyMs.pipe(Schema.fromKey("default_min_residency_ms")),
  cancelAbandonedLoads: options.cancelAbandonedLoads.pipe(Schema.fromKey("cancel_abandoned_loads")),
  reload: Schema.optionalWith(ReloadSection, { default: () => ({ strategy: "replace" as const }) })
}

/**
 * The decoded manager keys.
 *
 * @category models
 * @since 0.1.0
 */
export type Section = Schema.Struct.Type<typeof fields>

/**
 * What `checkReferences` looks at.
 *
 * @category models
 * @since 0.1.0
 */
export interface References {
  readonly profiles: ReadonlyArray<EngineProfile>
  readonly pools: ReadonlyArray<PoolSpec>
  readonly models?: ReadonlyArray<CatalogModel> | undefined
  readonly devices?: ReadonlyArray<Devices.Device> | undefined
}

/**
 * What Schema cannot see field by field, for `Schema.filter` on the whole file: engine names and
 * pool ids are unique, every pool names a configured engine, no two pools ask for the same port;
 * model ids and aliases are unique, every model names a configured engine and (when pinned) a
 * configured device, device ids are unique.
 * Each issue names the file's path (`engines.1.name`, `pools.0.engine`).
 *
 * @category utils
 * @since 0.1.0
 */
export const checkReferences = (section: References): ReadonlyArray<Schema.FilterIssue> => {
  const issues: Array<Schema.FilterIssue> = []
  const names = new Set<string>()
  section.profiles.forEach((engine, i) => {
    if (names.has(engine.name)) {
      issues.push({ path: ["engines", i, "name"], message: `duplicate engine name "${engine.name}"` })
    }
    names.add(engine.name)
  })
  const ids = new Set<string>()
  const ports = new Set<number>()
  section.pools.forEach((pool, i) => {
    if (ids.has(pool.id)) issues.push({ path: ["pools", i, "id"], message: `duplicate pool id "${pool.id}"` })
    ids.add(pool.id)
    if (!names.has(pool.engine)) {
      issues.push({
        path: ["pools", i, "engine"],
        message: `no engine named "${pool.engine}" (configured: ${[...names].join(", ") || "none"})`
      })
    }
    if (pool.port !== undefined) {
      if (ports.has(pool.port)) issues.push({ path: ["pools", i, "port"], message: `port ${pool.port} is used twice` })
      ports.add(pool.port)
    }
  })
  const devices = new Set<string>()
  ;(section.devices ?? []).forEach((device, i) => {
    if (devices.has(device.id)) {
      issues.push({ path: ["devices", i, "id"], message: `duplicate device id "${device.id}"` })
    }
    devices.add(device.id)
  })
  const modelNames = new Set<string>()
  ;(section.models ?? []).forEach((model, i) => {
    ;[model.id, ...model.aliases].forEach((name, j) => {
      if (modelNames.has(name)) {
        issues.push({
          path: j === 0 ? ["models", i, "id"] : ["models", i, "aliases", j - 1],
          message: `model id or alias "${name}" is used twice`
        })
      }
      modelNames.add(name)
    })
    if (!names.has(model.engine)) {
      issues.push({ path: ["models", i, "engine"], message: `no engine named "${model.engine}"` })
    }
    if (model.device !== undefined && devices.size > 0 && !devices.has(model.device)) {
      issues.push({
        path: ["models", i, "device"],
        message: `no device "${model.device}" (configured: ${[...devices].join(", ")})`
      })
    }
  })
  return issues
}

/**
 * The embedded manager's options from the decoded keys (of a whole file decoded with `fields`
 * among others: only these keys are read), the state directory the daemon settled on and the
 * version `health` reports.
 *
 * @category utils
 * @since 0.1.0
 */
export const embeddedOptions = (
  section: Section,
  resolved: { readonly stateDir: string; readonly version: string }
): EmbeddedPoolManager.EmbeddedOptions =>
  EmbeddedOptions.make({
    ...Struct.pick(
      section,
      "profiles",
      "pools",
      "modelDir",
      "shutdownDeadlineMs",
      "stopGraceMs",
      "startupTimeoutMs",
      "probeTimeoutMs",
      "liveness",
      "restart",
      "models",
      "devices",
      "defaultIdleTtlMs",
      "defaultMinResidencyMs",
      "cancelAbandonedLoads"
    ),
    host: section.engineHost,
    stateDir: resolved.stateDir,
    version: resolved.version
  })
