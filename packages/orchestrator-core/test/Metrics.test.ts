import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import { describe, expect, it } from "@effect/vitest"
import { PoolManagerUnavailable } from "@llama-orch/pool-core"
import { Effect, Either, Fiber, Layer, Metric, Stream, TestClock } from "effect"
import { EngineAdapter, OrchestratorMetrics } from "../src/index.js"
import { fakeEngine, llamaTokens, poolStatus, type Script } from "./helpers/fakes.js"
import { harness, task, until } from "./helpers/harness.js"

const hang: Script = { events: [], then: "hang" }

const count = (metric: Metric.Metric.Counter<number>, key: string, value: string) =>
  Metric.value(metric.pipe(Metric.tagged(key, value))).pipe(Effect.map((state) => state.count))

/** The series of a metric in the registry, as `label=value,...` strings. */
const seriesOf = (name: string) =>
  Metric.snapshot.pipe(Effect.map((pairs) =>
    pairs
      .filter((pair) => pair.metricKey.name === name)
      .map((pair) => pair.metricKey.tags.map((tag) => `${tag.key}=${tag.value}`).join(","))
  ))

describe("metrics", () => {
  it.effect("counters and latencies are there at zero before their first event", () =>
    Effect.gen(function*() {
      const h = yield* harness([poolStatus("zero-pool", { slots: 1 })], () => hang, { policy: "drop-lru" })
      expect(yield* seriesOf("orchestratord_tasks_enqueued_total")).toEqual(
        expect.arrayContaining(["priority=interactive", "priority=batch"])
      )
      expect(yield* seriesOf("orchestratord_tasks_canceled_total")).toEqual(
        expect.arrayContaining(["priority=interactive", "priority=batch"])
      )
      expect(yield* seriesOf("orchestratord_tasks_rejected_total")).toEqual(expect.arrayContaining([
        "reason=INVALID_PARAMS",
        "reason=MODEL_NOT_FOUND",
        "reason=ADMISSION_REJECT",
        "reason=BUDGET_EXCEEDED",
        "reason=POOL_UNREADY",
        "reason=POOL_UNAVAILABLE"
      ]))
      expect(yield* seriesOf("orchestratord_admission_backpressure_events_total")).toContain("policy=drop-lru")
      expect(yield* seriesOf("orchestratord_tasks_started_total")).toEqual(expect.arrayContaining([
        "pool_id=zero-pool,engine=fake,priority=interactive",
        "pool_id=zero-pool,engine=fake,priority=batch"
      ]))
      for (
        const name of [
          "orchestratord_tokens_in_total",
          "orchestratord_tokens_out_total",
          "orchestratord_latency_first_token_seconds",
          "orchestratord_latency_decode_seconds"
        ]
      ) {
        expect(yield* seriesOf(name), name).toContain("pool_id=zero-pool,engine=fake")
      }
      const started = OrchestratorMetrics.tasksStarted.pipe(
        Metric.tagged("pool_id", "zero-pool"),
        Metric.tagged("engine", "fake"),
        Metric.tagged("priority", "batch")
      )
      expect((yield* Metric.value(started)).count).toBe(0)
      yield* h.close
    }))

  it.effect("counters move only when their event happens", () =>
    Effect.gen(function*() {
      const h = yield* harness([poolStatus("p1", { slots: 1 })], () => hang)
      const enqueued = count(OrchestratorMetrics.tasksEnqueued, "priority", "batch")
      const canceled = count(OrchestratorMetrics.tasksCanceled, "priority", "batch")
      const rejected = count(OrchestratorMetrics.tasksRejected, "reason", "MODEL_NOT_FOUND")
      const before = { enqueued: yield* enqueued, canceled: yield* canceled, rejected: yield* rejected }
      const running = yield* h.orchestrator.submit(task({ priority: "batch" }))
      const waiting = yield* h.orchestrator.submit(task({ priority: "batch" }))
      yield* until(() => h.log.requests.length === 1)
      expect(yield* enqueued).toBe(before.enqueued + 2)
      expect(yield* canceled).toBe(before.canceled)
      yield* h.orchestrator.cancel(waiting.taskId)
      yield* h.orchestrator.cancel(waiting.taskId)
      expect(yield* canceled).toBe(before.canceled + 1)
      yield* Effect.either(h.orchestrator.submit(task({ model_ref: "nope" })))
      expect(yield* rejected).toBe(before.rejected + 1)
      const depth = yield* Metric.value(OrchestratorMetrics.queueDepth.pipe(Metric.tagged("model", "m")))
      expect(depth.value).toBe(0)
      yield* h.orchestrator.cancel(running.taskId)
      expect(yield* canceled).toBe(before.canceled + 2)
      yield* h.close
    }))
})

describe("pool manager failures", () => {
  it.effect("an unreachable pool manager refuses submissions with PoolsUnavailable", () =>
    Effect.gen(function*() {
      const down = new PoolManagerUnavailable({ url: "http://127.0.0.1:9200", reason: "connection refused" })
      // the orchestrator waits 5 s for a first snapshot that never comes
      const building = yield* Effect.fork(harness([poolStatus("p1")], () => llamaTokens(["a"]), {}, {
        list: Effect.fail(down),
        events: Stream.fail(down)
      }))
      yield* TestClock.adjust("5 seconds")
      const h = yield* Fiber.join(building)
      const r = yield* Effect.either(h.orchestrator.submit(task()))
      expect(Either.isLeft(r) && r.left._tag).toBe("PoolsUnavailable")
      expect(Either.isLeft(r) && r.left._tag === "PoolsUnavailable" && r.left.retryAfterMs).toBeGreaterThanOrEqual(100)
      yield* h.close
    }))

  it.effect("admission checks against the pool view the manager's events keep: no list per submit", () =>
    Effect.gen(function*() {
      const calls = { count: 0 }
      const h = yield* harness([poolStatus("p1", { slots: 64 })], () => hang, {}, {
        list: Effect.suspend(() => {
          calls.count++
          return Effect.succeed([poolStatus("p1", { slots: 64 })])
        })
      })
      for (let i = 0; i < 50; i++) yield* h.orchestrator.submit(task())
      expect(calls.count).toBe(0)
      // and a model the view does not know is refused from it too
      const unknown = yield* Effect.either(h.orchestrator.submit(task({ model_ref: "other" })))
      expect(Either.isLeft(unknown) && unknown.left._tag).toBe("ModelNotFound")
      expect(calls.count).toBe(0)
      yield* h.close
    }))

  it.effect("while the events are down, concurrent submits share one pool manager list; a later submit asks again", () =>
    Effect.gen(function*() {
      const pools = [poolStatus("p1", { slots: 64 })]
      const calls = { count: 0, down: false }
      const answer = yield* Effect.makeLatch(false)
      const building = yield* Effect.fork(harness(pools, () => hang, {}, {
        events: Stream.fail(new PoolManagerUnavailable({ url: "http://127.0.0.1:9200", reason: "connection refused" })),
        list: Effect.suspend(() => {
          calls.count++
          return answer.await.pipe(Effect.zipRight(
            calls.down
              ? Effect.fail(new PoolManagerUnavailable({ url: "http://127.0.0.1:9200", reason: "connection refused" }))
              : Effect.succeed(pools)
          ))
        })
      }))
      yield* TestClock.adjust("5 seconds")
      const h = yield* Fiber.join(building)
      const burst = (n: number) =>
        Effect.fork(Effect.all(Array.from({ length: n }, () => Effect.either(h.orchestrator.submit(task()))), {
          concurrency: "unbounded"
        }))
      const first = yield* burst(20)
      yield* until(() => calls.count === 1)
      yield* answer.open
      const admitted = yield* Fiber.join(first)
      expect(admitted.filter(Either.isRight)).toHaveLength(20)
      expect(calls.count).toBe(1)
      // no answer is reused once it is in: the next submit asks again
      yield* h.orchestrator.submit(task())
      expect(calls.count).toBe(2)
      // a failure is shared by the burst that waited for it
      yield* answer.close
      calls.down = true
      const second = yield* burst(5)
      yield* until(() => calls.count === 3)
      yield* answer.open
      const refused = yield* Fiber.join(second)
      expect(refused.map((r) => Either.isLeft(r) && r.left._tag)).toEqual(Array(5).fill("PoolsUnavailable"))
      expect(calls.count).toBe(3)
      yield* h.close
    }))
})

describe("engine adapters", () => {
  it("build llama.cpp and OpenAI requests (llama.cpp chat goes to its OpenAI endpoint, never a template of ours)", () => {
    const chat = task({ prompt: undefined, messages: [{ role: "user", content: "hi" }], temperature: 0.5, top_p: 0.9 })
    const llama = EngineAdapter.requestFor({ url: "http://e/", protocol: "llamacpp", model: "m" }, chat)
    expect(llama).toEqual({
      url: "http://e/v1/chat/completions",
      body: {
        model: "m",
        max_tokens: 8,
        stream: true,
        stream_options: { include_usage: true },
        temperature: 0.5,
        top_p: 0.9,
        messages: [{ role: "user", content: "hi" }]
      },
      stream: "openai"
    })
    const llamaPrompt = EngineAdapter.requestFor({ url: "http://e/", protocol: "llamacpp", model: "m" }, task({}))
    expect(llamaPrompt).toEqual({
      url: "http://e/completion",
      body: { prompt: "hello", n_predict: 8, stream: true },
      stream: "llamacpp"
    })
    const openaiChat = EngineAdapter.requestFor({ url: "http://e", protocol: "openai", model: "m" }, chat)
    expect(openaiChat.url).toBe("http://e/v1/chat/completions")
    expect(openaiChat.body).toMatchObject({
      model: "m",
      max_tokens: 8,
      stream: true,
      messages: [{ role: "user", content: "hi" }]
    })
    const completion = EngineAdapter.requestFor({ url: "http://e", protocol: "openai", model: "m" }, task({ seed: 3 }))
    expect(completion).toEqual({
      url: "http://e/v1/completions",
      body: {
        model: "m",
        max_tokens: 8,
        stream: true,
        stream_options: { include_usage: true },
        seed: 3,
        prompt: "hello"
      },
      stream: "openai"
    })
    // engine params go as they are, and take a llama.cpp prompt to the OpenAI endpoint too
    const tools = [{ type: "function", function: { name: "f" } }]
    const withParams = EngineAdapter.requestFor(
      { url: "http://e", protocol: "llamacpp", model: "m" },
      task({ engine_params: { tools, n: 2 } })
    )
    expect(withParams).toMatchObject({ url: "http://e/v1/completions", body: { tools, n: 2 }, stream: "openai" })
  })

  it("refuses engine params that would set a field of the task", () => {
    expect(() => task({ engine_params: { stream: false } })).toThrow(/may not set 'stream'/)
  })

  it.effect("parse OpenAI chat chunks up to [DONE], with usage", () =>
    Effect.gen(function*() {
      const chunk = (content: string) => JSON.stringify({ choices: [{ delta: { content }, finish_reason: null }] })
      const engine = fakeEngine(() => ({
        events: [
          chunk("he"),
          chunk("llo"),
          JSON.stringify({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 2 } }),
          "[DONE]"
        ],
        then: "hang"
      }))
      // the body stays open after [DONE]: the stream still ends, one second later
      const fiber = yield* EngineAdapter.stream(
        { url: "http://e", protocol: "openai", model: "m" },
        task({ prompt: undefined, messages: [{ role: "user", content: "x" }] })
      ).pipe(Stream.runCollect, Effect.provide(engine.layer), Effect.fork)
      for (let i = 0; i < 50 && fiber.unsafePoll() === null; i++) yield* TestClock.adjust("100 millis")
      const out = yield* Fiber.join(fiber)
      expect(Array.from(out)).toEqual([
        { _tag: "Text", text: "he" },
        { _tag: "Text", text: "llo" },
        { _tag: "Done", tokensIn: 4, tokensOut: 2 }
      ])
    }))

  it.effect("send once more when a pooled connection was closed before any answer, and say why when it fails again", () =>
    Effect.gen(function*() {
      const engine = fakeEngine(() => llamaTokens(["a", "b"]))
      const attempts = { count: 0, failing: 1 }
      const flaky = Layer.effect(
        HttpClient.HttpClient,
        Effect.map(HttpClient.HttpClient, (client) =>
          HttpClient.make((request) =>
            attempts.count++ < attempts.failing
              ? Effect.fail(
                new HttpClientError.RequestError({
                  request,
                  reason: "Transport",
                  cause: new Error("other side closed")
                })
              )
              : client.execute(request)
          ))
      ).pipe(Layer.provide(engine.layer))
      const run = EngineAdapter.stream({ url: "http://e", protocol: "llamacpp", model: "m" }, task()).pipe(
        Stream.runCollect,
        Effect.map((out) => Array.from(out, (o) => o._tag)),
        Effect.provide(flaky)
      )
      expect(yield* run).toEqual(["Text", "Text", "Done"])
      expect(attempts.count).toBe(2)
      attempts.count = 0
      attempts.failing = 2
      const failed = yield* Effect.flip(run)
      expect(failed.reason).toContain("other side closed")
      expect(attempts.count).toBe(2)
    }))
})
