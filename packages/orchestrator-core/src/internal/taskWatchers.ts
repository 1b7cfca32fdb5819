/**
 * The subscribers of each task's events, called synchronously as the events are emitted.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type { TaskActivity } from "../Orchestrator.js"
import type { TaskSnapshot } from "../TaskSnapshot.js"
import { snapshot, type TaskRecord } from "./taskLog.js"

type Watcher = (task: TaskSnapshot, queueDepths: ReadonlyMap<string, number>) => void

/**
 * Whoever follows every task (`watchTasks`): each change of a task reaches them synchronously, with
 * the queue depths of that moment; nothing is computed while nobody watches.
 */
export class TaskWatchers {
  private readonly watchers = new Set<Watcher>()

  constructor(private readonly queueDepths: () => ReadonlyMap<string, number>) {}

  /** A task changed (its records call this from `emit`). */
  readonly changed = (record: TaskRecord): void => {
    if (this.watchers.size === 0) return
    const task = snapshot(record)
    const depths = this.queueDepths()
    for (const watcher of this.watchers) {
      try {
        watcher(task, depths)
      } catch {
        this.watchers.delete(watcher)
      }
    }
  }

  /**
   * The newest `limit` of `records` and the queue depths, then every change until the scope
   * closes; the snapshot and the registration happen in one synchronous step.
   */
  watch(
    records: Iterable<TaskRecord>,
    onChange: Watcher,
    limit: number
  ): Effect.Effect<TaskActivity, never, Scope.Scope> {
    return Effect.scopeWith((scope) => {
      const tasks = Array.from(records)
        .sort((a, b) => b.submittedAt - a.submittedAt)
        .slice(0, Math.max(0, limit))
        .map(snapshot)
      const activity: TaskActivity = { tasks, queueDepths: this.queueDepths() }
      this.watchers.add(onChange)
      return Effect.as(Scope.addFinalizer(scope, Effect.sync(() => this.watchers.delete(onChange))), activity)
    }).pipe(Effect.uninterruptible)
  }
}
