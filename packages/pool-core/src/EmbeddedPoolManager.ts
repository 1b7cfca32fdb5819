/**
 * The embedded `PoolManager`: runs engines as child processes of this process — spawn, health
 * probes, handoff, leases, drain, reload and supervised restarts — with only the abstract
 * `@effect/platform` services as requirements.
 *
 * ```ts
 * const PoolsLive = EmbeddedPoolManager.layer({ profiles: [llamaServer], stateDir: "/var/lib/llama-orch" })
 *   .pipe(Layer.provide([NodeContext.layer, NodeHttpClient.layerUndici]))
 * ```
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Path from "@effect/platform/Path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { EngineProfile } from "./EngineProfile.js"
import { makeEmbeddedPoolManager } from "./internal/manager.js"
import { catalogFields } from "./ModelCatalog.js"
import { PoolConfigurator } from "./PoolConfigurator.js"
import type { StateDirRefused } from "./PoolErrors.js"
import { PoolManager } from "./PoolManager.js"
import { PoolSpec } from "./PoolSpec.js"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())

/**
 * Liveness probing of Ready engines: a probe every `intervalMs` (default 2 000); `failures`
 * consecutive misses (default 3) count as a crash.
 *
 * @category models
 * @since 0.1.0
 */
export class LivenessOptions extends Schema.Class<LivenessOptions>("LivenessOptions")({
  /** Milliseconds between two liveness probes of a Ready engine. */
  intervalMs: Schema.optionalWith(PositiveInt, { default: () => 2_000 }),
  /** Consecutive failed probes after which the engine is restarted. */
  failures: Schema.optionalWith(PositiveInt, { default: () => 3 })
}) {}

/**
 * Supervised restarts: the n-th consecutive restart waits `baseMs × 2^n` (±`jitter`), capped at
 * `maxMs`; the count resets after `resetAfterMs` of stable Ready; `maxFailures` failures within
 * `windowMs` open the circuit (state `Failed`, no more restarts until an explicit `preload` or
 * `reload`).
 *
 * @category models
 * @since 0.1.0
 */
export class RestartOptions extends Schema.Class<RestartOptions>("RestartOptions")({
  /** Delay before the first restart, in milliseconds (default 1 000). */
  baseMs: Schema.optionalWith(NonNegativeInt, { default: () => 1_000 }),
  /** Upper bound of any restart delay, in milliseconds (default 60 000). */
  maxMs: Schema.optionalWith(NonNegativeInt, { default: () => 60_000 }),
  /** Relative jitter applied to every delay: 0.1 is ±10 % (default). */
  jitter: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 0.1 }),
  /** Stable Ready time after which failures are forgotten, in milliseconds (default 300 000). */
  resetAfterMs: Schema.optionalWith(NonNegativeInt, { default: () => 300_000 }),
  /** Failures within `windowMs` that open the circuit (default 5). */
  maxFailures: Schema.optionalWith(PositiveInt, { default: () => 5 }),
  /** The window for `maxFailures`, in milliseconds (default 600 000). */
  windowMs: Schema.optionalWith(PositiveInt, { default: () => 600_000 })
}) {}

/**
 * Options of the embedded pool manager. Every field but `profiles` and `stateDir` has a default.
 *
 * @category models
 * @since 0.1.0
 */
export class EmbeddedOptions extends Schema.Class<EmbeddedOptions>("EmbeddedOptions")({
  /** The engine profiles pools may use (a pool names one in `spec.engine`). */
  profiles: Schema.Array(EngineProfile),
  /** Directory for pidfiles (`run/`) and handoff files (`handoff/`); one manager per directory. */
  stateDir: Schema.NonEmptyString,
  /** Pools registered when the manager starts (and preloaded in the background when `preload`). */
  pools: Schema.optionalWith(Schema.Array(PoolSpec), { default: () => [] }),
  /** The address engines bind to and are probed on (default `127.0.0.1`). */
  host: Schema.optionalWith(Schema.NonEmptyString, { default: () => "127.0.0.1" }),
  /** When set, model refs are resolved under this directory (and may not leave it); `{model}` gets the path. */
  modelDir: Schema.optional(Schema.NonEmptyString),
  /** Grace period between SIGTERM and SIGKILL when stopping an engine, in milliseconds (default 10 000). */
  stopGraceMs: Schema.optionalWith(NonNegativeInt, { default: () => 10_000 }),
  /**
   * How long active leases may run when the manager shuts down, a pool is removed, or a reload
   * gives no `deadlineMs` (milliseconds, default 30 000).
   */
  shutdownDeadlineMs: Schema.optionalWith(NonNegativeInt, { default: () => 30_000 }),
  /** How long an engine may take to answer its first successful health probe (default 120 000; `spec.startupTimeoutMs` overrides). */
  startupTimeoutMs: Schema.optionalWith(PositiveInt, { default: () => 120_000 }),
  /** Timeout of one health probe, in milliseconds (default 1 000). */
  probeTimeoutMs: Schema.optionalWith(PositiveInt, { default: () => 1_000 }),
  /**
   * While an engine loads, how often its progress is published in the pool's status (`loading`)
   * (milliseconds, default 1 000); it is logged at info every 5 seconds.
   */
  progressIntervalMs: Schema.optionalWith(PositiveInt, { default: () => 1_000 }),
  /** Timeout of the `versionArgs` command, in milliseconds (default 10 000). */
  versionTimeoutMs: Schema.optionalWith(PositiveInt, { default: () => 10_000 }),
  /** Liveness probing of Ready engines. */
  liveness: Schema.optionalWith(LivenessOptions, { default: () => new LivenessOptions({}) }),
  /** Supervised restart policy. */
  restart: Schema.optionalWith(RestartOptions, { default: () => new RestartOptions({}) }),
  /** The version `health` reports (default `0.0.0`). */
  version: Schema.optionalWith(Schema.String, { default: () => "0.0.0" }),
  /** The model catalog, its devices and its policies. */
  ...catalogFields
}) {}

/**
 * What `layer` accepts: an `EmbeddedOptions` or its plain-object form (defaults filled in).
 *
 * @category models
 * @since 0.1.0
 */
export type EmbeddedOptionsInput = EmbeddedOptions | typeof EmbeddedOptions.Encoded

/**
 * Decodes options, filling in defaults. Invalid options are a defect (a programming error).
 *
 * @category utils
 * @since 0.1.0
 */
export const decodeOptions = (input: EmbeddedOptionsInput): Effect.Effect<EmbeddedOptions> =>
  input instanceof EmbeddedOptions ? Effect.succeed(input) : Effect.orDie(Schema.decodeUnknown(EmbeddedOptions)(input))

/**
 * The embedded `PoolManager`. Closing the layer's scope drains every pool (up to
 * `shutdownDeadlineMs`) and stops every engine. At start it takes `stateDir` (created 0700; refused
 * with `StateDirRefused` when another user owns it or another manager holds its lock) and reaps
 * engines a crashed earlier run left behind (from the pidfiles in `stateDir`). It also provides the
 * manager's `PoolConfigurator`, with which the daemon changes its engine profiles on a config reload.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: EmbeddedOptionsInput
): Layer.Layer<
  PoolManager | PoolConfigurator,
  StateDirRefused,
  CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | HttpClient.HttpClient
> =>
  Layer.scopedContext(
    Effect.map(
      Effect.flatMap(decodeOptions(options), makeEmbeddedPoolManager),
      ({ configurator, manager }) =>
        Context.make(PoolManager, manager).pipe(Context.add(PoolConfigurator, configurator))
    )
  )
