/**
 * A catalogued model at run time: its state, reservation, use and load in progress, and the pool
 * id it runs under.
 *
 * @internal
 */
import type * as Deferred from "effect/Deferred"
import type * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type { CatalogModel, FootprintSource, ModelState } from "../ModelCatalog.js"
import type { InsufficientMemory, ModelLoadFailed } from "../PoolErrors.js"
import { PoolId } from "../PoolId.js"
import type { PoolStatus } from "../PoolStatus.js"

export type LoadError = ModelLoadFailed | InsufficientMemory

export interface Loading {
  readonly result: Deferred.Deferred<PoolStatus, LoadError>
  waiters: number
  fiber: Fiber.RuntimeFiber<void> | undefined
}

export interface Entry {
  readonly model: CatalogModel
  readonly poolId: PoolId
  state: ModelState
  /** Serializes a load with the clean-up of the one before it. */
  readonly gate: Effect.Semaphore
  device: string | undefined
  /** What its load reserved (or its engine was found to use), when known; `undefined`: nothing yet. */
  footprint: { readonly mb: number; readonly source: FootprintSource } | undefined
  loadedAt: number
  lastUsedAt: number | undefined
  leases: number
  loads: number
  loading: Loading | undefined
}

/** The public id a pool serves. */
export const servedModel = (status: PoolStatus): string => status.modelId ?? status.model

/** A pool id for each catalogued model, unique among them. */
export const poolIds = (catalog: ReadonlyArray<CatalogModel>): ReadonlyMap<string, PoolId> => {
  const taken = new Set<string>()
  const out = new Map<string, PoolId>()
  for (const model of catalog) {
    const base = `model-${model.id.toLowerCase().replace(/[^a-z0-9._-]/g, "-")}`.slice(0, 56)
    let id = base
    for (let i = 2; taken.has(id); i++) id = `${base}-${i}`
    taken.add(id)
    out.set(model.id, PoolId.make(id))
  }
  return out
}
