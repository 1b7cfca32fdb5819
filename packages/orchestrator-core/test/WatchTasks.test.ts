import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope, TestClock } from "effect"
import type { TaskSnapshot } from "../src/index.js"
import { llamaTokens, poolStatus } from "./helpers/fakes.js"
import { collect, harness, task, until } from "./helpers/harness.js"

describe("watchTasks", () => {
  it.effect("answers the retained tasks newest first, then each change of every task with the queue depths", () =>
    Effect.gen(function*() {
      const h = yield* harness([poolStatus("p1", { slots: 1 })], () => llamaTokens(["a", "b", "c"]))
      const first = yield* h.orchestrator.submit(task())
      yield* collect(h.orchestrator.events(first.taskId))
      yield* TestClock.adjust(5)
      const scope = yield* Scope.make()
      const changes: Array<{ readonly task: TaskSnapshot; readonly depth: number | undefined }> = []
      const activity = yield* h.orchestrator.watchTasks(
        (snapshot, depths) => changes.push({ task: snapshot, depth: depths.get("m") }),
        { limit: 10 }
      ).pipe(Scope.extend(scope))
      expect(activity.tasks.map((t) => [t.taskId, t.state, t.tokensOut])).toEqual([[first.taskId, "completed", 3]])
      expect(activity.queueDepths.get("m")).toBe(0)

      const second = yield* h.orchestrator.submit(task())
      yield* collect(h.orchestrator.events(second.taskId))
      const mine = changes.filter((c) => c.task.taskId === second.taskId)
      // admitted, dispatched, first token, ended: not one change per token
      expect(mine.map((c) => c.task.state)).toEqual(["queued", "running", "running", "completed"])
      expect(mine[0].depth).toBe(1)
      expect(mine[1].depth).toBe(0)
      const ended = mine[3].task
      expect(ended.firstTokenAt).toBeDefined()
      expect(ended.tokensOut).toBe(3)
      expect(ended.firstTokenAt).toBeGreaterThanOrEqual(ended.submittedAt)

      // the newest first, and no more than the limit
      const newest = yield* h.orchestrator.watchTasks(() => undefined, { limit: 1 }).pipe(Scope.extend(scope))
      expect(newest.tasks.map((t) => t.taskId)).toEqual([second.taskId])

      // once the scope closes nothing more arrives
      yield* Scope.close(scope, Exit.void)
      const seen = changes.length
      const third = yield* h.orchestrator.submit(task())
      yield* collect(h.orchestrator.events(third.taskId))
      yield* until(() => h.counters.active.get("p1") === 0)
      expect(changes).toHaveLength(seen)
      yield* h.close
    }))

  it.effect("a watcher that throws is dropped and the task goes on", () =>
    Effect.gen(function*() {
      const h = yield* harness([poolStatus("p1")], () => llamaTokens(["a"]))
      let calls = 0
      yield* h.orchestrator.watchTasks(() => {
        calls++
        throw new Error("broken watcher")
      }).pipe(Scope.extend(yield* Scope.make()))
      const { taskId } = yield* h.orchestrator.submit(task())
      const events = yield* collect(h.orchestrator.events(taskId))
      expect(events.at(-1)?.event._tag).toBe("end")
      expect(calls).toBe(1)
      yield* h.close
    }))
})
