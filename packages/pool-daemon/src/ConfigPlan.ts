/**
 * What a configuration reload would change, computed from the configuration in force and the file
 * as it is now, without touching anything: one step per pool (unchanged, reloaded onto another
 * model, restarted, removed or added) and the daemon settings that changed but only apply at the
 * next start. Pure: both daemons compute their plan with `make` and apply it with `ConfigReload`.
 *
 * ```ts
 * const plan = ConfigPlan.make(inForce, fromFile)
 * // plan.pools: [{ poolId: "b", action: "restart", changes: ["engine.args"] }, ...]
 * ```
 *
 * @since 0.1.0
 */
import { type EngineProfile, type PoolSpec, ReloadStrategy } from "@llama-orch/pool-core"
import * as Equal from "effect/Equal"
import * as Schema from "effect/Schema"
import * as Utils from "effect/Utils"
import { EngineEntry, PoolEntry, type ReloadSettings } from "./PoolsConfig.js"

/**
 * What a plan compares: the engines and pools of a configuration, how it reloads, and the daemon
 * settings read only at start, by file key (their values are compared, never shown).
 *
 * @category models
 * @since 0.1.0
 */
export interface Inputs {
  readonly profiles: ReadonlyArray<EngineProfile>
  readonly pools: ReadonlyArray<PoolSpec>
  readonly reload: ReloadSettings
  readonly settings: Readonly<Record<string, unknown>>
}

/**
 * What happens to one pool: `unchanged` (untouched, its engine keeps serving), `reload` (only its
 * model changed: the manager's reload, with the configured strategy and a rollback on failure),
 * `restart` (drained, then registered again with the new engine or spec), `remove` (drained and
 * removed) or `add` (registered, and preloaded when the pool says so).
 *
 * @category schemas
 * @since 0.1.0
 */
export const PoolAction = Schema.Literal("unchanged", "reload", "restart", "remove", "add")

/**
 * A value of the `PoolAction` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type PoolAction = typeof PoolAction.Type

/**
 * One pool's step: what happens and which keys of the file made it so (`model`, `slots`,
 * `engine.args`, …).
 *
 * @category models
 * @since 0.1.0
 */
export class PoolStep extends Schema.Class<PoolStep>("PoolStep")({
  poolId: Schema.String.pipe(Schema.propertySignature, Schema.fromKey("pool_id")),
  action: PoolAction,
  changes: Schema.Array(Schema.String),
  /** For `reload`: how the new model's engine takes over. */
  strategy: Schema.optional(ReloadStrategy)
}) {}

/**
 * The whole plan: the pool steps in the order they run (removals, then reloads and restarts one at
 * a time, then additions; unchanged pools last, as no-ops), and the changed daemon settings that
 * need a restart of the daemon and are not applied.
 *
 * @category models
 * @since 0.1.0
 */
export class ReloadPlan extends Schema.Class<ReloadPlan>("ReloadPlan")({
  pools: Schema.Array(PoolStep),
  restartRequired: Schema.Array(Schema.String).pipe(Schema.propertySignature, Schema.fromKey("restart_required"))
}) {}

const encodePool = Schema.encodeSync(PoolEntry)
const encodeEngine = Schema.encodeSync(EngineEntry)

/** Whether two decoded or encoded values are equal, arrays and plain objects compared by content. */
const same = (a: unknown, b: unknown): boolean => Utils.structuralRegion(() => Equal.equals(a, b))

/** The keys of two records whose values differ, in `prefix` + key form, sorted. */
const changedKeys = (
  from: Readonly<Record<string, unknown>>,
  to: Readonly<Record<string, unknown>>,
  prefix = ""
): Array<string> =>
  [...new Set([...Object.keys(from), ...Object.keys(to)])]
    .filter((key) => !same(from[key], to[key]))
    .sort()
    .map((key) => prefix + key)

/** Keys of a pool that change nothing of a running engine. */
const liveKeys: ReadonlySet<string> = new Set(["preload"])

const rank: Record<PoolAction, number> = { remove: 0, reload: 1, restart: 1, add: 2, unchanged: 3 }

/**
 * The plan that takes a daemon from `from` (in force) to `to` (the file now).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (from: Inputs, to: Inputs): ReloadPlan => {
  const engines = (inputs: Inputs) => new Map(inputs.profiles.map((profile) => [profile.name, profile]))
  const fromEngines = engines(from)
  const toEngines = engines(to)
  const engineChanges = (name: string): Array<string> => {
    const before = fromEngines.get(name)
    const after = toEngines.get(name)
    return before === undefined || after === undefined
      ? ["engine"]
      : changedKeys(encodeEngine(before), encodeEngine(after), "engine.")
  }
  const before = new Map(from.pools.map((spec) => [spec.id, spec]))
  const after = new Set(to.pools.map((spec) => spec.id))
  const steps: Array<PoolStep> = from.pools
    .filter((spec) => !after.has(spec.id))
    .map((spec) => PoolStep.make({ poolId: spec.id, action: "remove", changes: [] }))
  for (const spec of to.pools) {
    const old = before.get(spec.id)
    if (old === undefined) {
      steps.push(PoolStep.make({ poolId: spec.id, action: "add", changes: [] }))
      continue
    }
    const own = changedKeys(encodePool(old), encodePool(spec))
    const changes = old.engine === spec.engine ? [...own, ...engineChanges(spec.engine)] : own
    const restarting = changes.filter((key) => !liveKeys.has(key))
    const action: PoolAction = restarting.length === 0
      ? "unchanged"
      : restarting.length === 1 && restarting[0] === "model"
      ? "reload"
      : "restart"
    steps.push(
      PoolStep.make({
        poolId: spec.id,
        action,
        changes,
        ...(action === "reload" ? { strategy: to.reload.strategy } : {})
      })
    )
  }
  return ReloadPlan.make({
    pools: steps.sort((a, b) => rank[a.action] - rank[b.action] || a.poolId.localeCompare(b.poolId)),
    restartRequired: changedKeys(from.settings, to.settings)
  })
}

/**
 * Whether the plan changes anything at all (a pool step that is not `unchanged`, or a setting).
 *
 * @category guards
 * @since 0.1.0
 */
export const isEmpty = (plan: ReloadPlan): boolean =>
  plan.restartRequired.length === 0 && plan.pools.every((step) => step.action === "unchanged")
