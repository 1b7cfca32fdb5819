import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, TestClock } from "effect"
import * as Schema from "effect/Schema"
import { Failed, Metrics, Predictions } from "../src/index.js"
import { llamaTokens, poolStatus, type Script } from "./helpers/fakes.js"
import { collect, harness, task, until } from "./helpers/harness.js"

const hang: Script = { events: [], then: "hang" }

const failureTag = <A, E extends { readonly _tag: string }>(either: Either.Either<A, E>) =>
  Either.isLeft(either) ? either.left._tag : "admitted"

describe("admission", () => {
  it.effect("refuses unknown models, oversized requests, bad pins and models without a usable pool", () =>
    Effect.gen(function*() {
      const h = yield* harness(
        [
          poolStatus("p1", { ctxMax: 100 }),
          poolStatus("p2", { model: "other" }),
          poolStatus("p3", { model: "starting", state: "Starting" }),
          poolStatus("p4", { model: "failed", state: "Failed" })
        ],
        () => llamaTokens(["a"])
      )
      const submit = (fields: Record<string, unknown>) => Effect.either(h.orchestrator.submit(task(fields)))
      expect(failureTag(yield* submit({ model_ref: "nope" }))).toBe("ModelNotFound")
      const big = yield* submit({ prompt: "x".repeat(200), max_tokens: 60 })
      expect(Either.isLeft(big) && big.left._tag === "InvalidParams" && big.left.field).toBe("max_tokens")
      expect(failureTag(yield* submit({ prompt: "x".repeat(200), max_tokens: 50 }))).toBe("admitted")
      const pinMissing = yield* submit({ placement: { pin_pool_id: "p9" } })
      expect(Either.isLeft(pinMissing) && pinMissing.left._tag === "InvalidParams" && pinMissing.left.field).toBe(
        "placement.pin_pool_id"
      )
      expect(failureTag(yield* submit({ placement: { pin_pool_id: "p2" } }))).toBe("InvalidParams")
      const pinStarting = yield* submit({ model_ref: "starting", placement: { pin_pool_id: "p3" } })
      expect(Either.isLeft(pinStarting) && pinStarting.left._tag === "NoReadyPool" && pinStarting.left.poolId).toBe(
        "p3"
      )
      expect(failureTag(yield* submit({ model_ref: "starting" }))).toBe("admitted")
      const failed = yield* submit({ model_ref: "failed" })
      expect(Either.isLeft(failed) && failed.left._tag === "NoReadyPool" && failed.left.retryAfterMs)
        .toBeGreaterThanOrEqual(
          100
        )
      const chat = yield* submit({ prompt: undefined, messages: [{ role: "user", content: "y".repeat(400) }] })
      expect(failureTag(chat)).toBe("InvalidParams")
      yield* h.close
    }))

  it.effect("forbids pinning when the policy says so", () =>
    Effect.gen(function*() {
      const h = yield* harness([poolStatus("p1")], () => llamaTokens(["a"]), { allowPinning: false })
      const r = yield* Effect.either(h.orchestrator.submit(task({ placement: { pin_pool_id: "p1" } })))
      expect(Either.isLeft(r) && r.left._tag === "InvalidParams" && r.left.reason).toBe("pinning is not allowed")
      yield* h.close
    }))
})

describe("full-queue policies", () => {
  const fill = (policy: "reject" | "drop-lru" | "shed-low-priority") =>
    Effect.gen(function*() {
      const h = yield* harness([poolStatus("p1", { slots: 1 })], () => hang, { queueCapacity: 2, policy })
      yield* h.orchestrator.submit(task())
      yield* until(() => h.log.requests.length === 1)
      const a = yield* h.orchestrator.submit(task({ priority: "batch" }))
      const b = yield* h.orchestrator.submit(task({ priority: "batch" }))
      return { h, a, b }
    })

  it.effect("reject refuses the new task with a retry-after", () =>
    Effect.gen(function*() {
      const { h } = yield* fill("reject")
      const r = yield* Effect.either(h.orchestrator.submit(task()))
      expect(Either.isLeft(r) && r.left._tag === "AdmissionRejected" && [r.left.queueDepth, r.left.policy]).toEqual([
        2,
        "reject"
      ])
      expect(Either.isLeft(r) && r.left._tag === "AdmissionRejected" && r.left.retryAfterMs).toBeGreaterThanOrEqual(100)
      yield* h.close
    }))

  it.effect("drop-lru evicts the oldest queued task with QUEUE_FULL_DROP_LRU and admits the new one", () =>
    Effect.gen(function*() {
      const { a, h } = yield* fill("drop-lru")
      const c = yield* h.orchestrator.submit(task({ priority: "batch" }))
      expect(c.queuePosition).toBe(1)
      const evicted = yield* collect(h.orchestrator.events(a.taskId))
      const last = evicted.at(-1)?.event
      expect(Schema.is(Failed)(last) && [last.code, last.retriable]).toEqual(["QUEUE_FULL_DROP_LRU", true])
      expect((yield* h.orchestrator.queueDepths).get("m")).toBe(2)
      yield* h.close
    }))

  it.effect("shed-low-priority: an interactive arrival evicts the newest batch task; a batch arrival is refused", () =>
    Effect.gen(function*() {
      const { a, b, h } = yield* fill("shed-low-priority")
      const batch = yield* Effect.either(h.orchestrator.submit(task({ priority: "batch" })))
      expect(failureTag(batch)).toBe("AdmissionRejected")
      const interactive = yield* h.orchestrator.submit(task({ priority: "interactive" }))
      expect(interactive.queuePosition).toBe(0)
      const shed = yield* collect(h.orchestrator.events(b.taskId))
      const last = shed.at(-1)?.event
      expect(Schema.is(Failed)(last) && last.code).toBe("QUEUE_FULL_DROP_LRU")
      expect((yield* h.orchestrator.get(a.taskId)).state).toBe("queued")
      const refused = yield* Effect.either(h.orchestrator.submit(task({ priority: "interactive" })))
      expect(failureTag(refused)).toBe("admitted")
      const again = yield* Effect.either(h.orchestrator.submit(task({ priority: "interactive" })))
      expect(failureTag(again)).toBe("AdmissionRejected")
      yield* h.close
    }))
})

describe("sessions", () => {
  it.effect("keeps a session on its last pool (kv_warmth) and spends its token budget", () =>
    Effect.gen(function*() {
      const h = yield* harness([poolStatus("a", { slots: 4 }), poolStatus("b", { slots: 4 })], () =>
        llamaTokens(["x", "y"]), {
        sessionTokenBudget: 9
      })
      const poolOf = (events: ReadonlyArray<{ readonly event: unknown }>) =>
        events.flatMap((e) =>
          Schema.is(Metrics)(e.event) && e.event.poolId !== undefined ? [e.event] : []
        )[0]
      const first = yield* h.orchestrator.submit(task({ session_id: "s1" }))
      const e1 = poolOf(yield* collect(h.orchestrator.events(first.taskId)))
      expect([e1?.poolId, e1?.kvWarmth]).toEqual(["a", false])
      // an unrelated task occupies pool a, so without affinity the session would go to b
      const other = yield* h.orchestrator.submit(task())
      yield* collect(h.orchestrator.events(other.taskId))
      const second = yield* h.orchestrator.submit(task({ session_id: "s1" }))
      const e2 = poolOf(yield* collect(h.orchestrator.events(second.taskId)))
      expect([e2?.poolId, e2?.kvWarmth]).toEqual(["a", true])
      // each turn used 3 prompt + 2 generated tokens: 10 >= 9
      const third = yield* Effect.either(h.orchestrator.submit(task({ session_id: "s1" })))
      expect(Either.isLeft(third) && third.left._tag === "BudgetExceeded" && third.left.used).toBe(10)
      yield* h.close
    }))

  it.effect("allows at most maxTurns turns until the session expires after its sliding TTL", () =>
    Effect.gen(function*() {
      const h = yield* harness([poolStatus("a")], () => llamaTokens(["x"]), { sessionMaxTurns: 2 })
      const turn = () => Effect.either(h.orchestrator.submit(task({ session_id: "s" })))
      expect(failureTag(yield* turn())).toBe("admitted")
      yield* TestClock.adjust("9 minutes")
      expect(failureTag(yield* turn())).toBe("admitted")
      yield* TestClock.adjust("9 minutes")
      const third = yield* turn()
      expect(Either.isLeft(third) && third.left._tag === "InvalidParams" && third.left.field).toBe("session_id")
      yield* TestClock.adjust("1 minute")
      expect(failureTag(yield* turn())).toBe("admitted")
      yield* h.close
    }))
})

describe("predictions", () => {
  it("moving average, predicted start, on-time probability and retry-after", () => {
    expect(Predictions.ewma(1000, 2000, 0.2)).toBe(1200)
    expect(Predictions.predictedStartMs(0, 1, 2, 1000)).toBe(0)
    expect(Predictions.predictedStartMs(3, 1, 2, 1000)).toBe(1500)
    expect(Predictions.predictedStartMs(2, 0, 0, 1000)).toBe(3000)
    expect(Predictions.onTimeProbability(1000, 0, 1000)).toBeCloseTo(1 - Math.exp(-1))
    expect(Predictions.onTimeProbability(1000, 1000, 1000)).toBe(0)
    expect(Predictions.retryAfterMs(4, 100)).toBe(100)
    expect(Predictions.retryAfterMs(1, 1_000_000)).toBe(60_000)
    expect(Predictions.retryAfterMs(2, 3000)).toBe(1500)
  })

  it.effect("the service-time average follows measured tasks and drives predicted_start_ms", () =>
    Effect.gen(function*() {
      const h = yield* harness([poolStatus("p", { slots: 1 })], (i) => i === 0 ? llamaTokens(["a"]) : hang, {
        initialServiceTimeMs: 1_000,
        serviceTimeAlpha: 0.5
      })
      const first = yield* h.orchestrator.submit(task())
      expect(first.predictedStartMs).toBe(0)
      // the first was dispatched as it was admitted: none ahead of the second, which waits for its slot
      const waiting = yield* h.orchestrator.submit(task())
      expect([waiting.queuePosition, waiting.predictedStartMs]).toEqual([0, 1_000])
      // the first task is served in 0 ms of (test) time: the average halves
      yield* collect(h.orchestrator.events(first.taskId))
      yield* until(() => h.log.requests.length === 2)
      const third = yield* h.orchestrator.submit(task())
      expect([third.queuePosition, third.predictedStartMs]).toEqual([0, 500])
      yield* h.close
    }))
})
