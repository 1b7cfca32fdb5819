/**
 * Configuration reload of a daemon running pools: read and validate the file again, compute a
 * `ConfigPlan` against the configuration in force, then apply it one pool at a time — unchanged
 * pools are not touched, a pool whose model alone changed is reloaded (replace or surge, rolled
 * back on failure), a changed pool is drained and registered again, a removed one drained and
 * removed, an added one registered (and preloaded when it says so). Daemon settings that only
 * apply at start are reported, never applied. An invalid file changes nothing: the reload fails
 * with the file's `ConfigError`.
 *
 * Runs on `SIGHUP` and whenever `reload` is called (the daemons' admin routes); reloads never
 * overlap. Every plan and step is logged and announced as a pool event
 * (`config-reload-<action>`), and `<prefix>_config_reloads_total{result}` and
 * `<prefix>_config_last_reload_success_timestamp_seconds` count them.
 *
 * @since 0.1.0
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ConfigFile } from "@llama-orch/daemon-kit"
import {
  DrainOptions,
  PoolConfigurator,
  type PoolId,
  PoolManager,
  type PoolManagerService,
  type PoolSpec,
  ReloadOptions
} from "@llama-orch/pool-core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { type Inputs, make as makePlan, PoolAction, PoolStep, ReloadPlan } from "./ConfigPlan.js"

/**
 * How one step went: `done`, or `failed` with the reason (the pool is left as the failure left it;
 * a failed model reload has been rolled back when it says so).
 *
 * @category models
 * @since 0.1.0
 */
export class StepResult extends Schema.Class<StepResult>("StepResult")({
  poolId: Schema.String.pipe(Schema.propertySignature, Schema.fromKey("pool_id")),
  action: PoolAction,
  outcome: Schema.Literal("done", "failed"),
  message: Schema.optional(Schema.String),
  durationMs: Schema.Number.pipe(Schema.propertySignature, Schema.fromKey("duration_ms"))
}) {}

/**
 * What a reload did: the file, the plan, the result of every step that changed something
 * (`result` is `failed` when one of them failed), and the settings that need a restart.
 *
 * @category models
 * @since 0.1.0
 */
export class ReloadReport extends Schema.Class<ReloadReport>("ReloadReport")({
  source: Schema.String,
  result: Schema.Literal("applied", "failed"),
  plan: ReloadPlan,
  steps: Schema.Array(StepResult),
  durationMs: Schema.Number.pipe(Schema.propertySignature, Schema.fromKey("duration_ms"))
}) {}

/**
 * The body both daemons answer an invalid file with (HTTP 422): the file's issues, each with its
 * key path. Nothing was changed.
 *
 * @category models
 * @since 0.1.0
 */
export class ReloadRefused extends Schema.Class<ReloadRefused>("ReloadRefused")({
  error: Schema.Struct({
    code: Schema.Literal("CONFIG_INVALID"),
    message: Schema.String,
    issues: Schema.Array(ConfigFile.ConfigIssue)
  })
}) {}

/**
 * The `ReloadRefused` body of a `ConfigError`.
 *
 * @category utils
 * @since 0.1.0
 */
export const refused = (error: ConfigFile.ConfigError): ReloadRefused =>
  ReloadRefused.make({ error: { code: "CONFIG_INVALID", message: error.message, issues: error.issues } })

/**
 * The reload service of a daemon.
 *
 * @example
 * ```ts
 * import { ConfigFile } from "@llama-orch/daemon-kit"
 * import { ConfigReload } from "@llama-orch/pool-daemon"
 * import { Effect, Layer } from "effect"
 *
 * // a reloader whose file is invalid: `respond` answers 422 with the file's issues, as the admin routes do
 * const Invalid = Layer.succeed(ConfigReload.ConfigReloader, {
 *   reload: Effect.fail(
 *     new ConfigFile.ConfigError({ source: "pools.yaml", issues: [{ path: "pools.0.port", message: "Expected a number" }] })
 *   )
 * })
 *
 * Effect.runPromise(ConfigReload.respond.pipe(Effect.provide(Invalid))).then((response) => console.log(response.status))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class ConfigReloader extends Context.Tag("@llama-orch/pool-daemon/ConfigReloader")<ConfigReloader, {
  /** Reads the file, plans and applies; fails with the file's `ConfigError` when it is invalid. */
  readonly reload: Effect.Effect<ReloadReport, ConfigFile.ConfigError>
}>() {}

/**
 * The HTTP answer of a reload, as both daemons' admin routes give it: 200 with the `ReloadReport`,
 * or 422 with `ReloadRefused` when the file is invalid.
 *
 * @category utils
 * @since 0.1.0
 */
export const respond: Effect.Effect<HttpServerResponse.HttpServerResponse, never, ConfigReloader> = Effect.flatMap(
  ConfigReloader,
  (reloader) =>
    reloader.reload.pipe(
      Effect.flatMap(HttpServerResponse.schemaJson(ReloadReport)),
      Effect.catchTag("ConfigError", (error) =>
        HttpServerResponse.schemaJson(ReloadRefused)(refused(error), { status: 422 })),
      Effect.orDie
    )
)

/**
 * The reload metrics of a daemon whose metric names start with `prefix`: the counter of reloads by
 * `result` (`applied`, `failed`, `invalid`) and the gauge of the last success (Unix seconds).
 *
 * @category utils
 * @since 0.1.0
 */
export const metrics = (prefix: string) => {
  const reloads = Metric.counter(`${prefix}_config_reloads_total`, {
    description: "Configuration reloads by result: applied, failed (a step failed) or invalid (nothing changed).",
    incremental: true
  })
  return {
    reloads: (result: "applied" | "failed" | "invalid") => Metric.tagged(reloads, "result", result),
    lastSuccess: Metric.gauge(`${prefix}_config_last_reload_success_timestamp_seconds`, {
      description: "When the configuration was last reloaded without a failed step (Unix seconds; 0 never)."
    })
  }
}

/**
 * What `layer` needs: the file (for messages), how to read it into `Inputs` given those in force
 * (a daemon may keep parts it cannot change), the `Inputs` the daemon started with, the drain
 * deadline when the file's `reload.deadline_ms` is not set, the metric name prefix, and whether
 * `SIGHUP` reloads.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options<R> {
  readonly source: string
  readonly load: (inForce: Inputs) => Effect.Effect<Inputs, ConfigFile.ConfigError, R>
  readonly initial: Inputs
  readonly deadlineMs: number
  readonly metricPrefix: string
  readonly onHangup: boolean
}

/**
 * The `Inputs` in force after a plan ran: the file's, as far as the manager has them — a pool whose
 * model reload failed keeps its old spec, a pool that failed to be registered again is left out
 * (the next reload adds it), a pool that failed to be removed stays; settings stay as they were.
 */
const inForceAfter = (
  from: Inputs,
  to: Inputs,
  failedReloads: ReadonlySet<string>,
  registered: ReadonlySet<string>
): Inputs => {
  const old = new Map(from.pools.map((spec) => [spec.id, spec]))
  const kept = new Set(to.pools.map((spec) => spec.id))
  return {
    ...to,
    pools: [
      ...to.pools
        .filter((spec) => registered.has(spec.id))
        .map((spec) => failedReloads.has(spec.id) ? old.get(spec.id) ?? spec : spec),
      ...from.pools.filter((spec) => !kept.has(spec.id) && registered.has(spec.id))
    ],
    // not applied: they are reported again until the daemon restarts
    settings: from.settings
  }
}

const describe = (step: PoolStep): string =>
  `${step.poolId}: ${step.action}${step.changes.length === 0 ? "" : ` (${step.changes.join(", ")})`}${
    step.strategy === undefined ? "" : ` [${step.strategy}]`
  }`

/** Applies one step to the manager; `spec` is the pool's new spec (its old one for `remove`). */
const applyStep = (
  pools: PoolManagerService,
  announce: (poolId: PoolId, reason: string) => Effect.Effect<void>,
  step: PoolStep,
  spec: PoolSpec,
  deadlineMs: number
): Effect.Effect<void, { readonly message: string }> => {
  const reason = `config-reload-${step.action}`
  const preloaded = spec.preload ? Effect.asVoid(pools.preload(spec.id)) : Effect.void
  const drainAndRemove = Effect.zipRight(pools.drain(spec.id, new DrainOptions({ deadlineMs })), pools.remove(spec.id))
  switch (step.action) {
    case "remove":
      return Effect.zipRight(announce(spec.id, reason), drainAndRemove)
    case "reload":
      return Effect.zipRight(
        announce(spec.id, reason),
        pools.reload(
          spec.id,
          new ReloadOptions({
            model: spec.model,
            deadlineMs,
            ...(step.strategy === undefined ? {} : { strategy: step.strategy })
          })
        )
      )
    case "restart":
      return Effect.all([announce(spec.id, reason), drainAndRemove, pools.register(spec), preloaded], {
        discard: true
      })
    case "add":
      return Effect.all([pools.register(spec), announce(spec.id, reason), preloaded], { discard: true })
    case "unchanged":
      return Effect.void
  }
}

/**
 * The reloader over the `PoolManager` in context (and the embedded manager's `PoolConfigurator`,
 * when there is one: without it no engine profile changes).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = <R>(options: Options<R>): Layer.Layer<ConfigReloader, never, PoolManager | R> =>
  Layer.scoped(
    ConfigReloader,
    Effect.gen(function*() {
      const pools = yield* PoolManager
      const context = yield* Effect.context<R>()
      const configurator = yield* Effect.serviceOption(PoolConfigurator)
      const inForce = yield* Ref.make(options.initial)
      const lock = yield* Effect.makeSemaphore(1)
      const { lastSuccess, reloads: counted } = metrics(options.metricPrefix)
      // there at zero from the start
      yield* Effect.forEach(["applied", "failed", "invalid"] as const, (result) => Metric.value(counted(result)), {
        discard: true
      })
      yield* Metric.set(lastSuccess, 0)

      const announce = (poolId: PoolId, reason: string) =>
        Option.match(configurator, {
          onNone: () => Effect.void,
          onSome: (c) => Effect.ignore(c.announce(poolId, reason))
        })

      const run = Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const from = yield* Ref.get(inForce)
        const to = yield* options.load(from).pipe(
          Effect.provide(context),
          Effect.tapError((error) =>
            Effect.zipRight(
              Metric.increment(counted("invalid")),
              Effect.logError(`Configuration reload refused; nothing changed. ${error.message}`)
            )
          )
        )
        const plan = makePlan(from, to)
        yield* Effect.logInfo(
          `Configuration reload plan: ${plan.pools.map(describe).join("; ") || "no pools"}${
            plan.restartRequired.length === 0
              ? ""
              : `; needs a restart to apply: ${plan.restartRequired.join(", ")}`
          }.`
        )
        if (Option.isSome(configurator)) yield* configurator.value.setProfiles(to.profiles)
        // a step's spec: the new one, or the old one of a pool being removed
        const specs = new Map<string, PoolSpec>([...from.pools, ...to.pools].map((spec) => [spec.id, spec]))
        const deadlineMs = to.reload.deadlineMs ?? options.deadlineMs
        const results: Array<StepResult> = []
        for (const step of plan.pools.filter((s) => s.action !== "unchanged")) {
          const stepStarted = yield* Clock.currentTimeMillis
          yield* Effect.logInfo(`Configuration reload step ${describe(step)}: starting.`)
          const spec = specs.get(step.poolId)
          const outcome = spec === undefined
            ? Either.left({ message: "the plan names a pool the configuration does not have" })
            : yield* Effect.either(applyStep(pools, announce, step, spec, deadlineMs))
          const durationMs = (yield* Clock.currentTimeMillis) - stepStarted
          const failure = outcome._tag === "Left" ? outcome.left.message : undefined
          yield* failure === undefined
            ? Effect.logInfo(`Configuration reload step ${describe(step)}: done in ${durationMs} ms.`)
            : Effect.logError(`Configuration reload step ${describe(step)}: failed: ${failure}`)
          results.push(
            StepResult.make({
              poolId: step.poolId,
              action: step.action,
              outcome: failure === undefined ? "done" : "failed",
              ...(failure === undefined ? {} : { message: failure }),
              durationMs
            })
          )
        }
        const failed = new Set(
          results.filter((r) => r.outcome === "failed" && r.action === "reload").map((r) => r.poolId)
        )
        const registered = yield* pools.list.pipe(
          Effect.map((statuses) => new Set<string>(statuses.map((status) => status.poolId))),
          Effect.orElseSucceed(() => new Set([...from.pools, ...to.pools].map((spec) => spec.id)))
        )
        yield* Ref.set(inForce, inForceAfter(from, to, failed, registered))
        const ok = results.every((r) => r.outcome === "done")
        const ended = yield* Clock.currentTimeMillis
        yield* Metric.increment(counted(ok ? "applied" : "failed"))
        if (ok) yield* Metric.set(lastSuccess, ended / 1000)
        return ReloadReport.make({
          source: options.source,
          result: ok ? "applied" : "failed",
          plan,
          steps: results,
          durationMs: ended - started
        })
      })
      // in the layer's scope: a caller that goes away (a closed connection) never cuts a step in half
      const scope = yield* Effect.scope
      const reload = lock.withPermits(1)(run).pipe(Effect.forkIn(scope), Effect.flatMap(Fiber.join))

      if (options.onHangup) {
        const hangups = Stream.async<void>((emit) => {
          const onSignal = () => void emit.single(undefined)
          process.on("SIGHUP", onSignal)
          return Effect.sync(() => process.off("SIGHUP", onSignal))
        })
        yield* Stream.runForEach(hangups, () =>
          Effect.logInfo(`SIGHUP: reloading ${options.source}.`).pipe(
            Effect.zipRight(reload),
            // refused files are logged by the reload; anything else must not end the listener
            Effect.catchAllCause((cause) =>
              Cause.isFailType(cause) ? Effect.void : Effect.logError("Configuration reload failed.", cause)
            )
          )).pipe(Effect.forkScoped)
      }
      return ConfigReloader.of({ reload })
    })
  )
