/**
 * Model grouping: which on-demand loads the orchestrator asks for, and what each must keep. A pure
 * function over the queues' state, so the decisions are tested without pools or clocks.
 *
 * While models with work (queued or running, or a task ended a moment ago: a client sending its
 * next request) are loaded, a load for another model keeps them: the pool manager refuses it with
 * `InsufficientMemory` instead of evicting them, and its tasks wait.
 * It is asked again when one of the models it kept has no work left, or when its oldest task has
 * waited `agingMs` (then it keeps nothing). A load refused while keeping nothing holds the dispatch
 * of the other models' queued tasks, so their pools drain and can be evicted, and is asked again
 * when memory may have been freed (a pool removed, a lease given back) or after `retryMs`. So
 * alternating A, B, A, B traffic is served in groups, one swap per group, and no model waits
 * longer than about `agingMs` for its turn.
 *
 * @since 0.1.0
 */

/**
 * A model with queued tasks and no pool of it Ready or coming up.
 *
 * @category models
 * @since 0.1.0
 */
export interface Waiting {
  readonly model: string
  /** When its oldest queued task was submitted (epoch ms). */
  readonly oldestAt: number
}

/**
 * The last refusal of a model's load for lack of memory.
 *
 * @category models
 * @since 0.1.0
 */
export interface Refusal {
  /** The models that load kept. */
  readonly keep: ReadonlyArray<string>
  /** When it was refused (epoch ms). */
  readonly at: number
  /** Whether memory may have been freed since (a pool removed, a lease given back). */
  readonly freed: boolean
}

/**
 * What the decision looks at.
 *
 * @category models
 * @since 0.1.0
 */
export interface State {
  readonly now: number
  /** How long a model's oldest task waits before its load may evict models with work; 0: at once. */
  readonly agingMs: number
  /** How long after a refusal that kept nothing the load is asked again, when nothing was freed. */
  readonly retryMs: number
  readonly waiting: ReadonlyArray<Waiting>
  /**
   * Loaded models with work, each with the time it stops counting as busy: `Infinity` while it has
   * tasks queued or running, a moment after its last task ended otherwise.
   */
  readonly busy: ReadonlyMap<string, number>
  /** Models whose load is in flight. */
  readonly loading: ReadonlySet<string>
  readonly refused: ReadonlyMap<string, Refusal>
}

/**
 * One load to ask for.
 *
 * @category models
 * @since 0.1.0
 */
export interface LoadCall {
  readonly model: string
  readonly keep: ReadonlyArray<string>
}

/**
 * The decision: loads to ask for now, models whose queued tasks are not dispatched for now (so an
 * aged model's load can evict them), and when to decide again if nothing else happens.
 *
 * @category models
 * @since 0.1.0
 */
export interface Plan {
  readonly loads: ReadonlyArray<LoadCall>
  readonly hold: ReadonlySet<string>
  readonly wakeAt: number | undefined
}

/**
 * Whether a waiting model's oldest task has waited long enough to evict models with work.
 *
 * @category utils
 * @since 0.1.0
 */
export const aged = (state: Pick<State, "now" | "agingMs">, waiting: Waiting): boolean =>
  state.agingMs === 0 || state.now - waiting.oldestAt >= state.agingMs

/**
 * Decides the loads, holds and next wake-up.
 *
 * @category utils
 * @since 0.1.0
 */
export const plan = (state: State): Plan => {
  const loads: Array<LoadCall> = []
  const hold = new Set<string>()
  let wakeAt: number | undefined
  const wakeBy = (at: number) => {
    wakeAt = wakeAt === undefined ? at : Math.min(wakeAt, at)
  }
  const busy = new Set<string>()
  for (const [model, until] of state.busy) if (until > state.now) busy.add(model)
  for (const waiting of state.waiting) {
    const model = waiting.model
    if (state.loading.has(model)) continue
    const old = aged(state, waiting)
    const keep = old ? [] : Array.from(busy).filter((m) => m !== model).sort()
    const refusal = state.refused.get(model)
    if (!old) wakeBy(waiting.oldestAt + state.agingMs)
    if (refusal === undefined) {
      loads.push({ model, keep })
      continue
    }
    if (refusal.keep.length > 0) {
      // refused to keep models with work: again once one of them has none, or once aged
      const drained = refusal.keep.some((m) => !busy.has(m))
      if (old || drained || refusal.freed) loads.push({ model, keep })
      else for (const m of refusal.keep) if ((state.busy.get(m) ?? Infinity) < Infinity) wakeBy(state.busy.get(m) ?? 0)
      continue
    }
    // refused while keeping nothing: the others drain so their pools can go
    for (const m of busy) if (m !== model) hold.add(m)
    if (refusal.freed || state.now >= refusal.at + state.retryMs) loads.push({ model, keep })
    else wakeBy(refusal.at + state.retryMs)
  }
  return { loads, hold, wakeAt }
}
