/**
 * PlacementPolicy: which pool a task goes to. A pure function over pool candidates, deterministic for a
 * given input whatever its order.
 *
 * @since 0.1.0
 */
import type { PoolId, PoolStatus } from "@llama-orch/pool-core"

/**
 * What placement needs to know of a pool. `PoolStatus` fits as is; the orchestrator passes its own
 * view of free slots (its in-flight leases). `freeVramBytes` is optional: pool status carries no
 * VRAM figure, so pools without one count as equal on that key.
 *
 * @category models
 * @since 0.1.0
 */
export type Candidate = Pick<PoolStatus, "poolId" | "state" | "model" | "slotsFree" | "activeLeases"> & {
  readonly freeVramBytes?: number | undefined
}

/**
 * What to place: the model, an optional pin and the session's last pool.
 *
 * @category models
 * @since 0.1.0
 */
export interface PlacementRequest {
  readonly model: string
  readonly pinPoolId?: PoolId | undefined
  readonly lastPoolId?: string | undefined
}

/**
 * The outcome of placement.
 *
 * - `Placed`: go to `poolId`; `kvWarmth` when it is the session's last pool.
 * - `Wait`: no eligible pool has a free slot right now (the pinned one included).
 * - `PinInvalid`: the pinned pool does not exist or does not serve the model.
 * - `PinUnready`: the pinned pool exists but is not Ready.
 *
 * @category models
 * @since 0.1.0
 */
export type Decision =
  | { readonly _tag: "Placed"; readonly poolId: PoolId; readonly kvWarmth: boolean }
  | { readonly _tag: "Wait" }
  | { readonly _tag: "PinInvalid"; readonly poolId: PoolId; readonly reason: string }
  | { readonly _tag: "PinUnready"; readonly poolId: PoolId; readonly state: Candidate["state"] }

const wait: Decision = { _tag: "Wait" }

/**
 * The public model id a pool serves: its `modelId`, else its model file (pools registered without
 * a catalog serve their model under the file's name, as before). Tasks are placed by this id.
 *
 * @category utils
 * @since 0.1.0
 */
export const servedModel = (status: Pick<PoolStatus, "model" | "modelId">): string => status.modelId ?? status.model

/**
 * Whether a pool may take this task now: Ready, serving the model, with a free slot.
 *
 * @category utils
 * @since 0.1.0
 */
export const eligible = (pool: Candidate, model: string): boolean =>
  pool.state === "Ready" && pool.model === model && pool.slotsFree > 0

/**
 * Orders pools by (free VRAM desc, active leases asc, pool id asc). Unknown VRAM counts as equal.
 *
 * @category utils
 * @since 0.1.0
 */
export const compare = (a: Candidate, b: Candidate): number => {
  const va = a.freeVramBytes ?? 0
  const vb = b.freeVramBytes ?? 0
  if (va !== vb) return vb - va
  if (a.activeLeases !== b.activeLeases) return a.activeLeases - b.activeLeases
  return a.poolId < b.poolId ? -1 : a.poolId > b.poolId ? 1 : 0
}

/**
 * Chooses a pool. A pin routes to that pool or fails, never elsewhere; otherwise the session's last
 * pool when it can take the task, otherwise the best pool by `compare`.
 *
 * @category utils
 * @since 0.1.0
 */
export const place = (pools: Iterable<Candidate>, request: PlacementRequest): Decision => {
  if (request.pinPoolId !== undefined) {
    let pinned: Candidate | undefined
    for (const pool of pools) {
      if (pool.poolId === request.pinPoolId) pinned = pool
    }
    if (pinned === undefined) return { _tag: "PinInvalid", poolId: request.pinPoolId, reason: "no such pool" }
    if (pinned.model !== request.model) {
      return { _tag: "PinInvalid", poolId: pinned.poolId, reason: `pool serves ${pinned.model}, not ${request.model}` }
    }
    if (pinned.state !== "Ready") return { _tag: "PinUnready", poolId: pinned.poolId, state: pinned.state }
    return pinned.slotsFree > 0
      ? { _tag: "Placed", poolId: pinned.poolId, kvWarmth: pinned.poolId === request.lastPoolId }
      : wait
  }
  let best: Candidate | undefined
  for (const pool of pools) {
    if (!eligible(pool, request.model)) continue
    if (pool.poolId === request.lastPoolId) return { _tag: "Placed", poolId: pool.poolId, kvWarmth: true }
    if (best === undefined || compare(pool, best) < 0) best = pool
  }
  return best === undefined ? wait : { _tag: "Placed", poolId: best.poolId, kvWarmth: false }
}
