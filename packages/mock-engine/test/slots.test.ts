import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { getJson, metric, payloads, postSse, TestLayer, untilMetric, withEngine } from "./helpers.js"

const timeout = 120_000

/** Streams two requests at once and records the order in which their events arrive. */
const twoAtOnce = (url: string) =>
  Effect.gen(function*() {
    const order: Array<string> = []
    const request = (name: string) =>
      postSse(`${url}/completion`, { prompt: `request ${name}`, n_predict: 8, stream: true }, {
        onData: () => order.push(name)
      })
    const [a, b] = yield* Effect.all([request("a"), request("b")], { concurrency: 2 })
    return { order, a: payloads(a), b: payloads(b) }
  })

describe("mock-engine slots", () => {
  it.scopedLive(
    "--slots 1: concurrent requests wait for the slot and never overlap",
    () =>
      withEngine({ slots: 1, tps: 100 }, (engine) =>
        Effect.gen(function*() {
          const { a, b, order } = yield* twoAtOnce(engine.url)
          expect(a.at(-1)).toMatchObject({ stop: true, tokens_predicted: 8 })
          expect(b.at(-1)).toMatchObject({ stop: true, tokens_predicted: 8 })
          // All events of one request arrive before any of the other's.
          const first = order[0]
          expect(order.slice(0, 9).every((name) => name === first)).toBe(true)
          expect(order.slice(9).every((name) => name !== first)).toBe(true)
          expect(yield* metric(engine.url, "mock_max_concurrent_requests")).toBe(1)
          expect(yield* metric(engine.url, "llamacpp:requests_deferred")).toBe(0)
        })).pipe(Effect.provide(TestLayer)),
    timeout
  )

  it.scopedLive(
    "--slots 1: waiting requests are served in arrival order (FIFO)",
    () =>
      withEngine({ slots: 1, tps: 20 }, (engine) =>
        Effect.gen(function*() {
          const order: Array<string> = []
          const until = (name: string, expected: number) => untilMetric(engine.url, name, expected)
          const stopFirst = new AbortController()
          const request = (name: string, nPredict: number, signal?: AbortSignal) =>
            Effect.fork(postSse(`${engine.url}/completion`, { prompt: name, n_predict: nPredict, stream: true }, {
              onData: () => order.push(name),
              ...(signal === undefined ? {} : { signal })
            }))
          const first = yield* request("first", 10_000, stopFirst.signal)
          yield* until("llamacpp:requests_processing", 1)
          const second = yield* request("second", 3)
          yield* until("llamacpp:requests_deferred", 1)
          const third = yield* request("third", 3)
          yield* until("llamacpp:requests_deferred", 2)
          const slots = yield* getJson(`${engine.url}/slots`)
          expect(slots.body).toMatchObject([{ id: 0, is_processing: true }])
          // Freeing the only slot lets the waiting requests run, oldest first.
          stopFirst.abort()
          yield* Fiber.join(first)
          const [b, c] = yield* Effect.all([Fiber.join(second), Fiber.join(third)])
          expect(payloads(b).at(-1)).toMatchObject({ stop: true, tokens_predicted: 3 })
          expect(payloads(c).at(-1)).toMatchObject({ stop: true, tokens_predicted: 3 })
          const rest = order.filter((name) => name !== "first")
          expect(rest).toEqual([...Array(4).fill("second"), ...Array(4).fill("third")])
          expect(yield* metric(engine.url, "mock_max_concurrent_requests")).toBe(1)
        })).pipe(Effect.provide(TestLayer)),
    timeout
  )

  it.scopedLive(
    "a waiting request whose client disconnects leaves the queue at once",
    () =>
      withEngine({ slots: 1, tps: 20 }, (engine) =>
        Effect.gen(function*() {
          const until = (name: string, expected: number) => untilMetric(engine.url, name, expected)
          const stopFirst = new AbortController()
          const stopWaiting = new AbortController()
          const first = yield* Effect.fork(
            postSse(`${engine.url}/completion`, { prompt: "a", n_predict: 10_000, stream: true }, {
              signal: stopFirst.signal
            })
          )
          yield* until("llamacpp:requests_processing", 1)
          const waiting = yield* Effect.fork(
            postSse(`${engine.url}/completion`, { prompt: "b", n_predict: 10_000, stream: true }, {
              signal: stopWaiting.signal
            })
          )
          yield* until("llamacpp:requests_deferred", 1)
          stopWaiting.abort()
          yield* Fiber.join(waiting)
          // The first request still holds the slot; the one that gave up is no longer counted as waiting.
          yield* until("llamacpp:requests_deferred", 0)
          expect(yield* metric(engine.url, "llamacpp:requests_processing")).toBe(1)
          stopFirst.abort()
          yield* Fiber.join(first)
          yield* until("llamacpp:requests_processing", 0)
          const next = yield* postSse(`${engine.url}/completion`, { prompt: "c", n_predict: 2, stream: true })
          expect(payloads(next).at(-1)).toMatchObject({ stop: true, id_slot: 0, tokens_predicted: 2 })
        })).pipe(Effect.provide(TestLayer)),
    timeout
  )

  it.scopedLive(
    "--slots 2: two requests run at once on two slots",
    () =>
      withEngine({ slots: 2, tps: 100 }, (engine) =>
        Effect.gen(function*() {
          const { a, b } = yield* twoAtOnce(engine.url)
          const slotsUsed = new Set([a[0]?.id_slot, b[0]?.id_slot])
          expect(slotsUsed).toEqual(new Set([0, 1]))
          expect(yield* metric(engine.url, "mock_max_concurrent_requests")).toBe(2)
        })).pipe(Effect.provide(TestLayer)),
    timeout
  )

  it.scopedLive(
    "a client disconnect stops the generation and frees the slot",
    () =>
      withEngine({ slots: 1, tps: 20 }, (engine) =>
        Effect.gen(function*() {
          const cut = yield* postSse(`${engine.url}/completion`, { prompt: "long", n_predict: 10_000, stream: true }, {
            maxEvents: 3
          })
          expect(payloads(cut)).toHaveLength(3)
          yield* untilMetric(engine.url, "llamacpp:requests_processing", 0)
          const before = yield* metric(engine.url, "llamacpp:tokens_predicted_total")
          expect(before).toBeGreaterThanOrEqual(3)
          expect(before).toBeLessThan(20)
          const slots = yield* getJson(`${engine.url}/slots`)
          expect(slots.body).toMatchObject([{ id: 0, is_processing: false }])
          // The freed slot serves the next request; over its half second (10 tokens at 20 tokens/s)
          // a generation still running would have added about as many tokens again.
          const next = yield* postSse(`${engine.url}/completion`, { prompt: "next", n_predict: 10, stream: true })
          expect(payloads(next).at(-1)).toMatchObject({ stop: true, tokens_predicted: 10 })
          expect(yield* metric(engine.url, "llamacpp:tokens_predicted_total")).toBe(before + 10)
        })).pipe(Effect.provide(TestLayer)),
    timeout
  )
})
