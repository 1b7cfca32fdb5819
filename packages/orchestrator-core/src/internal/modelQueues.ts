/**
 * The per-model queues of the orchestrator and the dispatch loop that hands queued tasks to pools
 * with free slots (placement).
 *
 * @internal
 */
import type { PoolId } from "@llama-orch/pool-core"
import { comingUp } from "../AdmissionCheck.js"
import type { OrchestratorOptions } from "../OrchestratorOptions.js"
import * as PlacementPolicy from "../PlacementPolicy.js"
import type { Sessions } from "../Sessions.js"
import { TaskQueue } from "../TaskQueue.js"
import type { PoolView } from "./poolView.js"
import { emit, fail, type TaskRecord } from "./taskLog.js"

/** How far down a queue dispatch looks for a task whose pinned pool is free. */
const scanLimit = 64

/** A task placed on a pool, to be run. */
export interface Launch {
  readonly record: TaskRecord
  readonly poolId: PoolId
  readonly kvWarmth: boolean
}

/**
 * The queues of every model and the synchronous dispatch decisions over them. Callers run these
 * methods inside one synchronous step, so decisions never interleave.
 */
export class ModelQueues {
  readonly byModel = new Map<string, TaskQueue<TaskRecord>>()

  constructor(
    private readonly options: OrchestratorOptions,
    private readonly view: PoolView,
    private readonly sessions: Sessions
  ) {}

  /** The model's queue, created on first use. */
  queueFor(model: string): TaskQueue<TaskRecord> {
    let queue = this.byModel.get(model)
    if (queue === undefined) {
      queue = new TaskQueue<TaskRecord>(this.options.queueCapacity, this.options.policy)
      this.byModel.set(model, queue)
    }
    return queue
  }

  /** How many tasks of the model wait. */
  depth(model: string): number {
    return this.byModel.get(model)?.size ?? 0
  }

  /** Whether any task waits, of any model: when none does, a dispatch round has nothing to do. */
  anyWaiting(): boolean {
    for (const queue of this.byModel.values()) if (queue.size > 0) return true
    return false
  }

  /** Takes a record out of its queue; answers whether it was queued. */
  remove(record: TaskRecord): boolean {
    const entry = record.entry
    record.entry = undefined
    const queue = this.byModel.get(record.model)
    return entry !== undefined && queue !== undefined && queue.remove(entry)
  }

  /** Puts a task whose lease was refused back at the head of its queue. */
  requeue(record: TaskRecord): void {
    record.state = "queued"
    record.entry = this.queueFor(record.model).pushFront(record.id, record, record.priority)
  }

  /** The chance a task finishes within its deadline when it starts in `startMs`. */
  onTime(record: TaskRecord, now: number, startMs: number): number | undefined {
    const deadline = record.request.deadlineMs
    return this.view.onTime(
      record.model,
      deadline === undefined ? undefined : deadline - (now - record.submittedAt),
      startMs
    )
  }

  /** Emits a `metrics` event to every waiting task of the model whose position changed. */
  positionsChanged(model: string, now: number): void {
    const queue = this.byModel.get(model)
    if (queue === undefined) return
    let position = 0
    for (const entry of queue.entries()) {
      const record = entry.value
      if (record.position !== position) {
        record.position = position
        const onTimeProbability = this.onTime(record, now, this.view.startIn(model, position))
        emit(record, { _tag: "metrics", queuePosition: position, queueDepth: queue.size, onTimeProbability }, now)
      }
      position++
    }
  }

  /**
   * Decides which waiting tasks go where now, reserving their slots in the view. Tasks whose pin
   * became invalid, or whose model lost every pool and is not `loadable` on demand, end here with
   * an error; the queues of models in `hold` wait.
   */
  plan(now: number, hold: ReadonlySet<string>, loadable: (model: string) => boolean): Array<Launch> {
    const launches: Array<Launch> = []
    for (const [model, queue] of this.byModel) {
      if (queue.size === 0 || hold.has(model)) continue
      const served = this.view.served(model)
      const pools = this.view.candidates(model, now)
      const ended: Array<TaskRecord> = []
      let scanned = 0
      for (const entry of queue.entries()) {
        if (scanned++ >= scanLimit) break
        const record = entry.value
        const pin = record.request.placement?.pinPoolId
        const session = record.request.sessionId
        const last = session === undefined ? undefined : this.sessions.get(session, now)?.lastPoolId
        const decision = PlacementPolicy.place(pools, { model, pinPoolId: pin, lastPoolId: last })
        if (decision._tag === "Placed") {
          launches.push({ record, poolId: decision.poolId, kvWarmth: decision.kvWarmth })
          this.view.adjust(decision.poolId, 1)
          const chosen = pools.find((p) => p.poolId === decision.poolId)
          if (chosen !== undefined) {
            chosen.slotsFree--
            chosen.activeLeases++
          }
          ended.push(record)
        } else if (decision._tag === "PinInvalid") {
          fail(record, now, "INVALID_PARAMS", `pinned pool ${decision.poolId}: ${decision.reason}`, false)
          ended.push(record)
        } else if (decision._tag === "PinUnready" && !comingUp.has(decision.state)) {
          const message = `pinned pool ${decision.poolId} is ${decision.state}`
          fail(record, now, "POOL_UNREADY", message, true, this.view.retryAfter(model))
          ended.push(record)
        } else if (pin === undefined) {
          if (served || loadable(model)) break
          const message = `no pool serving ${model} is ready or starting`
          fail(record, now, "POOL_UNREADY", message, true, this.view.retryAfter(model))
          ended.push(record)
        }
      }
      for (const record of ended) this.remove(record)
      if (ended.length > 0) this.positionsChanged(model, now)
    }
    return launches
  }
}
