import { describe, expect, it } from "@effect/vitest"
import { PoolId, PoolManager } from "@llama-orch/pool-core"
import { Effect, Either, Random, Schema, Stream } from "effect"
import { End, Failed, Orchestrator, type SequencedEvent, Token } from "../src/index.js"
import { awaitReady, maxConcurrent, mockProfile, withStack } from "./helpers/embedded.js"
import { task } from "./helpers/harness.js"

const terminalCount = (events: ReadonlyArray<SequencedEvent>) =>
  events.filter((e) => e.event._tag === "end" || e.event._tag === "failed").length

/** Checks the shape of one task's events: ids from 1, tokens consecutive from 0, one terminal event, last. */
const checkShape = (events: ReadonlyArray<SequencedEvent>) => {
  expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1))
  expect(events[0]?.event._tag).toBe("started")
  const tokens = events.flatMap((e) => Schema.is(Token)(e.event) ? [e.event.i] : [])
  expect(tokens).toEqual(tokens.map((_, i) => i))
  expect(terminalCount(events)).toBe(1)
  const last = events.at(-1)?.event
  expect(last?._tag === "end" || last?._tag === "failed").toBe(true)
  return { tokens: tokens.length, last }
}

/** Two pools of 2 slots each on mock engines generating `tps` tokens per second. */
const twoPools = (tps: number) => ({
  profiles: [mockProfile("mock", ["--tps", String(tps)])],
  pools: ["a", "b"].map((id) => ({ id, engine: "mock", model: "tiny", slots: 2 })),
  orchestrator: { queueCapacity: 100 }
})

describe("Orchestrator on the embedded pool manager and real mock engines", () => {
  it.live(
    "2 pools x 2 slots, 50 concurrent tasks: each ends once, in order, within the slots, all leases back",
    () =>
      withStack(
        twoPools(200),
        Effect.gen(function*() {
          const orchestrator = yield* Orchestrator
          const pm = yield* PoolManager
          const results = yield* Effect.forEach(
            Array.from({ length: 50 }, (_, i) => i),
            (i) =>
              orchestrator.submit(task({ model_ref: "tiny", prompt: `task ${i}`, max_tokens: 6, seed: i })).pipe(
                Effect.flatMap((a) => Stream.runCollect(orchestrator.events(a.taskId))),
                Effect.map((chunk) => Array.from(chunk))
              ),
            { concurrency: "unbounded" }
          )
          for (const events of results) {
            const { last, tokens } = checkShape(events)
            expect(Schema.is(End)(last) && last.tokensOut).toBe(tokens)
            expect(tokens).toBe(6)
          }
          const statuses = yield* pm.list
          for (const s of statuses) {
            expect(s.activeLeases).toBe(0)
            expect(yield* maxConcurrent(s.handoff?.url ?? "")).toBeLessThanOrEqual(2)
          }
          expect((yield* orchestrator.queueDepths).get("tiny")).toBe(0)
        })
      ),
    120_000
  )

  it.live(
    "cancel storm: after cancel returns no token is ever emitted, and each task ends exactly once",
    () =>
      withStack(
        twoPools(100),
        Effect.gen(function*() {
          const orchestrator = yield* Orchestrator
          const pm = yield* PoolManager
          const outcomes = yield* Effect.forEach(
            Array.from({ length: 40 }, (_, i) => i),
            (i) =>
              Effect.gen(function*() {
                const { taskId } = yield* orchestrator.submit(
                  task({ model_ref: "tiny", prompt: `c${i}`, max_tokens: 20 })
                )
                yield* Effect.sleep(yield* Random.nextIntBetween(0, 150))
                yield* orchestrator.cancel(taskId)
                const atCancel = Array.from(yield* Stream.runCollect(orchestrator.events(taskId)))
                yield* orchestrator.cancel(taskId)
                return { taskId, atCancel }
              }),
            { concurrency: "unbounded" }
          )
          yield* Effect.sleep("300 millis")
          let cancelled = 0
          for (const { atCancel, taskId } of outcomes) {
            const later = Array.from(yield* Stream.runCollect(orchestrator.events(taskId)))
            expect(later).toEqual(atCancel)
            const { last } = checkShape(later)
            if (Schema.is(Failed)(last)) {
              expect([last.code, last.retriable]).toEqual(["CANCELLED", false])
              cancelled++
            }
          }
          expect(cancelled).toBeGreaterThan(0)
          for (const s of yield* pm.list) expect(s.activeLeases).toBe(0)
        })
      ),
    120_000
  )

  it.live(
    "an engine killed mid-stream ends the task with WORKER_RESET; after the restart a new task succeeds",
    () =>
      withStack(
        {
          profiles: [mockProfile("crashy", ["--tps", "50", "--crash-after-tokens", "3"])],
          pools: [{ id: "c", engine: "crashy", model: "tiny", slots: 1 }]
        },
        Effect.gen(function*() {
          const orchestrator = yield* Orchestrator
          const pm = yield* PoolManager
          const { taskId } = yield* orchestrator.submit(task({ model_ref: "tiny", max_tokens: 10 }))
          const events = Array.from(yield* Stream.runCollect(orchestrator.events(taskId)))
          const { last } = checkShape(events)
          expect(Schema.is(Failed)(last) && [last.code, last.retriable]).toEqual(["WORKER_RESET", true])
          yield* awaitReady(pm, "c", 2)
          const retry = yield* orchestrator.submit(task({ model_ref: "tiny", max_tokens: 2 }))
          const after = Array.from(yield* Stream.runCollect(orchestrator.events(retry.taskId)))
          expect(checkShape(after).last?._tag).toBe("end")
          expect((yield* pm.status(Schema.decodeSync(PoolId)("c"))).activeLeases).toBe(0)
        })
      ),
    120_000
  )

  it.live("OpenAI-protocol engines: completions and chat stream through the same events", () =>
    withStack(
      {
        profiles: [mockProfile("oai", [], "openai")],
        pools: [{ id: "o", engine: "oai", model: "tiny", slots: 2 }]
      },
      Effect.gen(function*() {
        const orchestrator = yield* Orchestrator
        for (
          const fields of [
            { prompt: "hello", max_tokens: 5 },
            { prompt: undefined, messages: [{ role: "user", content: "hi" }], max_tokens: 5 }
          ]
        ) {
          const { taskId } = yield* orchestrator.submit(task({ model_ref: "tiny", ...fields }))
          const events = Array.from(yield* Stream.runCollect(orchestrator.events(taskId)))
          const { last, tokens } = checkShape(events)
          expect(Schema.is(End)(last) && last.tokensOut).toBe(tokens)
          expect(tokens).toBeGreaterThan(0)
        }
      })
    ), 120_000)

  it.live("a full queue under drop-lru evicts the oldest waiting task while engines run", () =>
    withStack(
      {
        // the running task takes a second: all four are submitted while it runs, even on a busy machine
        profiles: [mockProfile("mock", ["--tps", "5"])],
        pools: [{ id: "a", engine: "mock", model: "tiny", slots: 1 }],
        orchestrator: { queueCapacity: 2, policy: "drop-lru" }
      },
      Effect.gen(function*() {
        const orchestrator = yield* Orchestrator
        const ids = yield* Effect.forEach(Array.from({ length: 4 }, (_, i) => i), (i) =>
          orchestrator.submit(task({ model_ref: "tiny", prompt: `q${i}`, max_tokens: 5 })).pipe(
            Effect.map((a) =>
              a.taskId
            ),
            Effect.tap(() => Effect.sleep("20 millis"))
          ))
        const all = yield* Effect.forEach(ids, (id) =>
          Stream.runCollect(orchestrator.events(id)).pipe(Effect.map((c) =>
            Array.from(c)
          )))
        const codes = all.map((events) => {
          const last = checkShape(events).last
          return Schema.is(Failed)(last) ? last.code : last?._tag
        })
        expect(codes).toEqual(["end", "QUEUE_FULL_DROP_LRU", "end", "end"])
        const refused = yield* Effect.either(orchestrator.submit(task({ model_ref: "nope" })))
        expect(Either.isLeft(refused) && refused.left._tag).toBe("ModelNotFound")
      })
    ), 120_000)
})
