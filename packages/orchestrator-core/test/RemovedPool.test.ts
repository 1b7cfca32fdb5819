import { describe, expect, it } from "@effect/vitest"
import { type PoolEvent, Snapshot, StatusChanged } from "@llama-orch/pool-core"
import { Effect, Either, Queue, Stream } from "effect"
import { llamaTokens, poolStatus } from "./helpers/fakes.js"
import { harness, settle, task } from "./helpers/harness.js"

describe("a pool the manager removes", () => {
  it.effect("leaves the orchestrator's view: admission and placement no longer see it", () =>
    Effect.gen(function*() {
      const feed = yield* Queue.unbounded<PoolEvent>()
      yield* Queue.offer(feed, new Snapshot({ pools: [poolStatus("gone"), poolStatus("kept", { model: "other" })] }))
      const h = yield* harness([poolStatus("gone")], () => llamaTokens(["a"]), {}, { events: Stream.fromQueue(feed) })
      // the pool is there: its model is admitted
      yield* h.orchestrator.submit(task())
      // a cluster node leaves (or the pool is removed): its last status comes with reason "removed"
      yield* Queue.offer(feed, new StatusChanged({ status: poolStatus("gone"), reason: "removed" }))
      yield* settle
      const refused = yield* Effect.either(h.orchestrator.submit(task()))
      expect(Either.isLeft(refused) && refused.left._tag).toBe("ModelNotFound")
      yield* h.close
    }))
})
