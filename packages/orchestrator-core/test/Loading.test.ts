import { describe, expect, it } from "@effect/vitest"
import { Loading, type PoolEvent, PoolStatus, Snapshot, StatusChanged } from "@llama-orch/pool-core"
import { DateTime, Effect, Queue, Stream } from "effect"
import type { SequencedEvent } from "../src/index.js"
import { llamaTokens, poolStatus } from "./helpers/fakes.js"
import { harness, settle, task, until } from "./helpers/harness.js"

/** The pool `p` while its engine loads: `elapsedMs` in, the last load of the model took `expectedMs`. */
const loading = (elapsedMs: number, expectedMs: number | undefined, progress?: string) =>
  new PoolStatus({
    ...poolStatus("p", { state: "Starting" }),
    live: true,
    ready: false,
    loading: new Loading({
      since: DateTime.unsafeMake(0),
      elapsedMs,
      ...(expectedMs === undefined ? {} : { expectedMs }),
      ...(progress === undefined ? {} : { progress, fraction: 0.5 })
    })
  })

describe("a task waiting for a loading model", () => {
  it.effect("is told the load's progress and ETA, and its predicted start includes the load's time left", () =>
    Effect.gen(function*() {
      const feed = yield* Queue.unbounded<PoolEvent>()
      yield* Queue.offer(feed, new Snapshot({ pools: [loading(1_000, 5_000)] }))
      const h = yield* harness([poolStatus("p")], () => llamaTokens(["a", "b"]), {}, {
        events: Stream.fromQueue(feed)
      })
      const admission = yield* h.orchestrator.submit(task())
      // 4 s of the load left, then one service time of its queue position
      expect(admission.predictedStartMs).toBeGreaterThanOrEqual(4_000)

      const seen: Array<SequencedEvent> = []
      yield* Effect.scoped(Effect.gen(function*() {
        yield* h.orchestrator.subscribe(admission.taskId, (e) => seen.push(e))
        yield* Queue.offer(
          feed,
          new StatusChanged({ status: loading(3_000, 5_000, "load_tensors: 50%"), reason: "loading" })
        )
        yield* until(() => seen.some((e) => e.event._tag === "loading"))
        expect(seen.find((e) => e.event._tag === "loading")?.event).toEqual({
          _tag: "loading",
          poolId: "p",
          elapsedMs: 3_000,
          etaMs: 2_000,
          fraction: 0.5,
          progress: "load_tensors: 50%"
        })
        // Ready: the task runs, and no loading event follows
        yield* Queue.offer(feed, new StatusChanged({ status: poolStatus("p"), reason: "ready" }))
        yield* until(() => seen.some((e) => e.event._tag === "end"))
        yield* settle
      }))
      expect(seen.filter((e) => e.event._tag === "loading")).toHaveLength(1)
      expect(seen.map((e) => e.event._tag).at(-1)).toBe("end")
      yield* h.close
    }))

  it.effect("without a previous load the time left is unknown: the predicted start does not invent one", () =>
    Effect.gen(function*() {
      const feed = yield* Queue.unbounded<PoolEvent>()
      yield* Queue.offer(feed, new Snapshot({ pools: [loading(1_000, undefined)] }))
      const h = yield* harness([poolStatus("p")], () => llamaTokens(["a"]), {}, { events: Stream.fromQueue(feed) })
      const admission = yield* h.orchestrator.submit(task())
      expect(admission.predictedStartMs).toBeLessThan(4_000)
      yield* h.close
    }))
})
