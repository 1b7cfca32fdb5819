/**
 * The orchestrator's view of the pools: their status from the `PoolManager` feed and the slots it
 * holds itself (in-flight leases), as placement candidates.
 *
 * @internal
 */
import type { PoolStatus } from "@llama-orch/pool-core"
import type { PoolEvent } from "@llama-orch/pool-core"
import type { Mutable } from "effect/Types"
import { comingUp } from "../AdmissionCheck.js"
import * as PlacementPolicy from "../PlacementPolicy.js"
import * as Predictions from "../Predictions.js"

/**
 * The orchestrator's view of the pools: their last status from the manager's events, the leases
 * it holds itself (in flight), pools to skip for a while after a refused lease, and the measured
 * service time per model — and the predictions derived from them.
 */
export class PoolView {
  private readonly pools = new Map<string, PoolStatus>()
  private readonly inflight = new Map<string, number>()
  private readonly blockedUntil = new Map<string, number>()
  private readonly serviceMs = new Map<string, number>()
  /** Whether the manager's first snapshot arrived (a catalog-only manager may have no pool at all). */
  private seen = false

  constructor(private readonly initialServiceMs: number, private readonly alpha: number) {}

  /**
   * Applies one event of the pool manager; answers whether it can change a dispatch decision. A
   * lease taken elsewhere cannot (the view counts its own leases); a slot given back can, when
   * this orchestrator was refused a lease on that pool.
   */
  apply(event: PoolEvent): boolean {
    if (event._tag === "Snapshot") {
      this.seen = true
      this.pools.clear()
      for (const p of event.pools) this.pools.set(p.poolId, p)
      return true
    }
    const next = event.status
    // a removed pool (or a cluster node that left) takes no more tasks: placement must not see it
    if (event.reason === "removed") return this.pools.delete(next.poolId)
    const previous = this.pools.get(next.poolId)
    this.pools.set(next.poolId, next)
    return previous === undefined || previous.state !== next.state || previous.ready !== next.ready ||
      previous.model !== next.model || previous.modelId !== next.modelId || previous.slotsTotal !== next.slotsTotal ||
      previous.draining !== next.draining ||
      previous.slotsFree < next.slotsFree
  }

  /** Every pool's last status (what admission checks against, on every submit: no order needed). */
  statuses(): ReadonlyArray<PoolStatus> {
    return Array.from(this.pools.values())
  }

  /** Leases this orchestrator holds (or is taking) on a pool. */
  used(poolId: string): number {
    return this.inflight.get(poolId) ?? 0
  }

  /** Counts a lease taken (+1) or given back (-1). */
  adjust(poolId: string, delta: number): void {
    this.inflight.set(poolId, Math.max(0, this.used(poolId) + delta))
  }

  /** Leases this orchestrator holds on the model's pools. */
  inUse(model: string): number {
    let used = 0
    for (const p of this.pools.values()) if (PlacementPolicy.servedModel(p) === model) used += this.used(p.poolId)
    return used
  }

  /** Skips the pool for placement until `until`. */
  block(poolId: string, until: number): void {
    this.blockedUntil.set(poolId, until)
  }

  /** Slots of the model's Ready pools, and how many of them are free. */
  capacity(model: string): { readonly slots: number; readonly free: number } {
    let slots = 0
    let free = 0
    for (const p of this.pools.values()) {
      if (PlacementPolicy.servedModel(p) !== model || p.state !== "Ready" || p.nodeState === "unreachable") continue
      slots += p.slotsTotal
      free += Math.max(0, p.slotsTotal - this.used(p.poolId))
    }
    return { slots, free }
  }

  /** Whether some pool serves the model now or will (true before the first snapshot). */
  served(model: string): boolean {
    if (!this.seen) return true
    for (const p of this.pools.values()) {
      if (
        PlacementPolicy.servedModel(p) === model &&
        (p.state === "Ready" || p.state === "Draining" || comingUp.has(p.state))
      ) return true
    }
    return false
  }

  /** Placement candidates for the model, with this orchestrator's own count of free slots. */
  candidates(model: string, now: number): Array<Mutable<PlacementPolicy.Candidate>> {
    const out: Array<Mutable<PlacementPolicy.Candidate>> = []
    for (const p of this.pools.values()) {
      if (PlacementPolicy.servedModel(p) !== model) continue
      out.push({
        poolId: p.poolId,
        model,
        // a pool on an unreachable node, or refused a lease a moment ago, takes no task for now
        state: p.nodeState === "unreachable" || (this.blockedUntil.get(p.poolId) ?? 0) > now ? "Backoff" : p.state,
        slotsFree: Math.max(0, p.slotsTotal - this.used(p.poolId)),
        activeLeases: this.used(p.poolId)
      })
    }
    return out
  }

  /** The moving average of the model's service time. */
  meanService(model: string): number {
    return this.serviceMs.get(model) ?? this.initialServiceMs
  }

  /** Folds one measured service time into the model's average. */
  recordService(model: string, ms: number): void {
    this.serviceMs.set(model, Predictions.ewma(this.meanService(model), ms, this.alpha))
  }

  /** The suggested wait before retrying a refused request for the model. */
  retryAfter(model: string): number {
    return Predictions.retryAfterMs(this.capacity(model).slots, this.meanService(model))
  }

  /**
   * The predicted start of a task of the model at `position`. With no Ready pool but one loading,
   * the time its load has left (by the last load of the model) comes first.
   */
  startIn(model: string, position: number): number {
    const { free, slots } = this.capacity(model)
    const mean = this.meanService(model)
    if (slots > 0) return Predictions.predictedStartMs(position, free, slots, mean)
    const loading = this.soonestLoad(model)
    if (loading === undefined) return Predictions.predictedStartMs(position, free, slots, mean)
    return loading.remainingMs + Predictions.predictedStartMs(position, loading.slots, loading.slots, mean)
  }

  /** The load of the model's pools that should end first (unknown time left counts as 0). */
  soonestLoad(
    model: string
  ): { readonly poolId: string; readonly remainingMs: number; readonly slots: number } | undefined {
    let best: { poolId: string; remainingMs: number; slots: number } | undefined
    for (const p of this.pools.values()) {
      if (PlacementPolicy.servedModel(p) !== model || p.loading === undefined || p.state === "Ready") continue
      const remainingMs = p.loading.remainingMs ?? 0
      if (best === undefined || remainingMs < best.remainingMs) {
        best = { poolId: p.poolId, remainingMs, slots: p.slotsTotal }
      }
    }
    return best
  }

  /** The chance to finish within the deadline (`deadlineLeftMs` from now) when starting in `startMs`. */
  onTime(model: string, deadlineLeftMs: number | undefined, startMs: number): number | undefined {
    return deadlineLeftMs === undefined
      ? undefined
      : Predictions.onTimeProbability(deadlineLeftMs, startMs, this.meanService(model))
  }
}
