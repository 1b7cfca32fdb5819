import * as HttpServer from "@effect/platform/HttpServer"
import { assert, describe, expect, layer } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Layer, Redacted, Ref } from "effect"
import * as FakeOrchestrator from "./fixtures/FakeOrchestrator.js"
import { baseUrl, serve } from "./fixtures/server.js"
import { nth, readSse } from "./fixtures/sse.js"
import * as TestPools from "./fixtures/TestPools.js"

const server = serve(Layer.merge(FakeOrchestrator.layer({ tokenDelayMs: 2 }), TestPools.layer), {
  heartbeatMs: 50,
  maxBodyBytes: 64 * 1024
})

const call = (path: string, init?: RequestInit) =>
  Effect.flatMap(baseUrl, (url) => Effect.promise(() => fetch(`${url}${path}`, init)))

const postJson = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  call(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body)
  })

const json = (response: Response) => Effect.promise((): Promise<unknown> => response.json())

const submit = (body: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const response = yield* postJson("/v2/tasks", { model_ref: "mock-model", prompt: "hello", max_tokens: 5, ...body })
    expect(response.status).toBe(202)
    const accepted = yield* json(response)
    assert(typeof accepted === "object" && accepted !== null && "task_id" in accepted)
    return { accepted, taskId: String(accepted.task_id) }
  })

layer(server, { excludeTestServices: true })("orchestratord HTTP API", (it) => {
  it.effect("POST /v2/tasks answers 202 with the admission and the stream URL", () =>
    Effect.gen(function*() {
      const { accepted, taskId } = yield* submit({ task_id: "t-accept" })
      expect(taskId).toBe("t-accept")
      expect(accepted).toEqual({
        task_id: "t-accept",
        queue_position: 0,
        predicted_start_ms: 0,
        backoff_ms: 0,
        streams: { sse: "/v2/tasks/t-accept/events" }
      })
    }))

  it.effect("streams a full task as SSE: ids, event names, snake_case data, in order, nothing after end", () =>
    Effect.gen(function*() {
      const { taskId } = yield* submit()
      const response = yield* call(`/v2/tasks/${taskId}/events`)
      expect(response.status).toBe(200)
      expect(response.headers.get("content-type")).toContain("text/event-stream")
      expect(response.headers.get("cache-control")).toBe("no-cache")
      expect(response.headers.get("x-accel-buffering")).toBe("no")
      const { events } = yield* Effect.promise(() => readSse(response))
      expect(events.map((e) => e.event)).toEqual([
        "started",
        "metrics",
        "token",
        "token",
        "token",
        "token",
        "token",
        "end"
      ])
      expect(events.map((e) => e.id)).toEqual(["1", "2", "3", "4", "5", "6", "7", "8"])
      expect(JSON.parse(nth(events, 0).data)).toEqual({ queue_position: 0, predicted_start_ms: 0 })
      expect(JSON.parse(nth(events, 2).data)).toEqual({ t: "tok0 ", i: 0 })
      expect(JSON.parse(nth(events, 7).data)).toEqual({ tokens_out: 5, tokens_in: 3, decode_time_ms: 1, decode_ms: 1 })
    }))

  it.effect("resumes with Last-Event-ID without loss or duplicates", () =>
    Effect.gen(function*() {
      const { taskId } = yield* submit({ max_tokens: 20 })
      const first = yield* call(`/v2/tasks/${taskId}/events`)
      const head = yield* Effect.promise(() => readSse(first, (events) => events.length >= 4))
      const lastId = nth(head.events, -1).id ?? ""
      const second = yield* call(`/v2/tasks/${taskId}/events`, { headers: { "last-event-id": lastId } })
      const tail = yield* Effect.promise(() => readSse(second))
      const ids = [...head.events, ...tail.events].map((e) => Number(e.id))
      expect(ids).toEqual(Array.from({ length: 23 }, (_, i) => i + 1))
      expect(nth(tail.events, -1).event).toBe("end")
    }))

  it.effect("cancel mid-stream ends the stream with CANCELLED and no token after; cancel is idempotent", () =>
    Effect.gen(function*() {
      const { taskId } = yield* submit({ max_tokens: 10_000 })
      const response = yield* call(`/v2/tasks/${taskId}/events`)
      // cancel only once tokens are flowing, so the cancel really lands mid-stream
      const streaming = yield* Deferred.make<void>()
      const onProgress = (events: ReadonlyArray<{ readonly event?: string | undefined }>) => {
        if (events.some((e) => e.event === "token")) Deferred.unsafeDone(streaming, Exit.void)
      }
      const cancelled = yield* Effect.fork(Effect.promise(() => readSse(response, undefined, onProgress)))
      yield* Deferred.await(streaming)
      const cancel = yield* call(`/v2/tasks/${taskId}/cancel`, { method: "POST" })
      expect(cancel.status).toBe(204)
      const again = yield* call(`/v2/tasks/${taskId}/cancel`, { method: "POST" })
      expect(again.status).toBe(204)
      const { events } = yield* cancelled.await.pipe(Effect.flatten)
      const last = nth(events, -1)
      expect(events.some((e) => e.event === "token")).toBe(true)
      expect(last.event).toBe("failed")
      expect(JSON.parse(last.data)).toMatchObject({ code: "CANCELLED", retriable: false })
      expect(events.filter((e) => e.event === "failed")).toHaveLength(1)
      const snapshot = yield* call(`/v2/tasks/${taskId}`).pipe(Effect.flatMap(json))
      expect(snapshot).toMatchObject({ task_id: taskId, state: "cancelled", model_ref: "mock-model" })
    }))

  it.effect("sends comment heartbeats on a quiet stream", () =>
    Effect.gen(function*() {
      const { taskId } = yield* submit({ max_tokens: 10_000 })
      const response = yield* call(`/v2/tasks/${taskId}/events`)
      // reads until the first heartbeat comment (the test times out if none comes), then stops
      const { comments } = yield* Effect.promise(() =>
        readSse(response, (_, comments) => comments.includes("heartbeat"))
      )
      yield* call(`/v2/tasks/${taskId}/cancel`, { method: "POST" })
      expect(comments).toContain("heartbeat")
    }))

  it.effect("unknown task: 404 NOT_FOUND on events, cancel and get", () =>
    Effect.gen(function*() {
      for (
        const [path, method] of [["/v2/tasks/nope/events", "GET"], ["/v2/tasks/nope/cancel", "POST"], [
          "/v2/tasks/nope",
          "GET"
        ]] as const
      ) {
        const response = yield* call(path, { method })
        expect(response.status).toBe(404)
        expect(yield* json(response)).toMatchObject({ code: "NOT_FOUND", retriable: false })
      }
    }))

  it.effect("unknown model: 404 MODEL_NOT_FOUND", () =>
    Effect.gen(function*() {
      const response = yield* postJson("/v2/tasks", { model_ref: "other", prompt: "x", max_tokens: 1 })
      expect(response.status).toBe(404)
      expect(yield* json(response)).toMatchObject({ code: "MODEL_NOT_FOUND" })
    }))

  it.effect("echoes a valid X-Correlation-Id and generates one otherwise", () =>
    Effect.gen(function*() {
      const echoed = yield* call("/health", { headers: { "x-correlation-id": "abc-123" } })
      expect(echoed.headers.get("x-correlation-id")).toBe("abc-123")
      const generated = yield* call("/v2/pools")
      expect(generated.headers.get("x-correlation-id")).toMatch(/^[0-9a-f-]{36}$/)
      const notFound = yield* call("/nowhere", { headers: { "x-correlation-id": "nf-1" } })
      expect(notFound.headers.get("x-correlation-id")).toBe("nf-1")
    }))

  it.effect("malformed JSON, wrong types, empty and oversize bodies, unknown routes: typed 4xx envelopes", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Effect.Effect<Response, never, HttpServer.HttpServer>, number]> = [
        [postJson("/v2/tasks", "{not json"), 400],
        [postJson("/v2/tasks", ""), 400],
        [postJson("/v2/tasks", { model_ref: "mock-model", prompt: 5, max_tokens: 1 }), 400],
        [postJson("/v2/tasks", { model_ref: "mock-model", prompt: "x", max_tokens: "many" }), 400],
        [postJson("/v2/tasks", { model_ref: "mock-model", max_tokens: 1 }), 400],
        [postJson("/v2/tasks", [1, 2]), 400],
        [postJson("/v2/tasks", { model_ref: "mock-model", prompt: "x".repeat(70 * 1024), max_tokens: 1 }), 413],
        [call("/v2/nothing"), 404],
        [call("/v2/tasks", { method: "DELETE" }), 404],
        [postJson("/v2/pools/mock-0/drain", { deadline_ms: -1 }), 400],
        [postJson("/v2/pools/mock-0/reload", { model_ref: "../etc" }), 400]
      ]
      for (const [request, status] of cases) {
        const response = yield* request
        expect(response.status).toBe(status)
        const body = yield* json(response)
        expect(body).toMatchObject({ code: expect.stringMatching(/^(INVALID_PARAMS|NOT_FOUND)$/), retriable: false })
        expect(body).toHaveProperty("message")
      }
      const named = yield* postJson("/v2/tasks", { model_ref: "mock-model", prompt: "x", max_tokens: 0 })
      expect(yield* json(named)).toMatchObject({ message: expect.stringContaining("max_tokens") })
    }))

  it.effect("GET /v2/pools and /v2/pools/{id}/health report the pool's state and counters", () =>
    Effect.gen(function*() {
      const list = yield* call("/v2/pools").pipe(Effect.flatMap(json))
      expect(list).toMatchObject({ pools: [{ pool_id: "mock-0", state: "Ready", model: "mock-model", ctx_max: 4096 }] })
      const health = yield* call("/v2/pools/mock-0/health").pipe(Effect.flatMap(json))
      expect(health).toEqual({
        pool_id: "mock-0",
        live: true,
        ready: true,
        draining: false,
        state: "Ready",
        metrics: { active_leases: 0, slots_total: 4, slots_free: 4, queue_depth: 0 }
      })
      const missing = yield* call("/v2/pools/nope/health")
      expect(missing.status).toBe(404)
      const invalid = yield* call("/v2/pools/NOT..VALID/health")
      expect(invalid.status).toBe(404)
    }))

  it.effect("drain answers 202; reload answers the outcome, or 502 with rolled_back on failure", () =>
    Effect.gen(function*() {
      const drain = yield* postJson("/v2/pools/mock-0/drain", { deadline_ms: 1000 })
      expect(drain.status).toBe(202)
      expect(yield* json(drain)).toEqual({ pool_id: "mock-0", draining: true, deadline_ms: 1000 })
      const reload = yield* postJson("/v2/pools/mock-0/reload", { model_ref: "other-model", strategy: "surge" })
      expect(reload.status).toBe(200)
      expect(yield* json(reload)).toMatchObject({ pool_id: "mock-0", strategy: "surge", to_model: "other-model" })
      const failed = yield* postJson("/v2/pools/mock-0/reload", { model_ref: "broken-model" })
      expect(failed.status).toBe(502)
      expect(yield* json(failed)).toMatchObject({
        rolled_back: true,
        pool_id: "mock-0",
        engine: "mock",
        stderr_tail: expect.stringContaining("broken-model")
      })
      // rolled back: the pool serves the model of the reload before
      const health = yield* call("/v2/pools/mock-0/health").pipe(Effect.flatMap(json))
      expect(health).toMatchObject({ state: "Ready", ready: true })
      const list = yield* call("/v2/pools").pipe(Effect.flatMap(json))
      expect(list).toMatchObject({ pools: [{ pool_id: "mock-0", model: "other-model" }] })
    }).pipe(
      // on a server of its own: the pool's changes stay out of the other tests
      Effect.provide(serve(Layer.merge(FakeOrchestrator.layer({ tokenDelayMs: 2 }), TestPools.layer)))
    ))

  it.effect("GET /v2/pools/events streams a snapshot first", () =>
    Effect.gen(function*() {
      const response = yield* call("/v2/pools/events")
      const { events } = yield* Effect.promise(() => readSse(response, (events) => events.length >= 1))
      expect(nth(events, 0).event).toBe("snapshot")
      expect(nth(events, 0).id).toBe("1")
      expect(JSON.parse(nth(events, 0).data)).toMatchObject({ pools: [{ pool_id: "mock-0" }] })
    }))

  it.effect("capabilities' api_version equals the OpenAPI info.version; the document lists the routes", () =>
    Effect.gen(function*() {
      const capabilities = yield* call("/v2/meta/capabilities").pipe(Effect.flatMap(json))
      const openapi = yield* call("/openapi.json").pipe(Effect.flatMap(json))
      assert(typeof capabilities === "object" && capabilities !== null && "api_version" in capabilities)
      expect(openapi).toMatchObject({ info: { version: capabilities.api_version } })
      expect(capabilities).toMatchObject({
        pools: [{
          pool_id: "mock-0",
          engine: "mock",
          engine_version: "mock-1.0",
          model: "mock-model",
          ctx_max: 4096,
          slots: 4
        }]
      })
      assert(typeof openapi === "object" && openapi !== null && "paths" in openapi)
      expect(Object.keys(openapi.paths as object)).toEqual(expect.arrayContaining([
        "/v2/tasks",
        "/v2/tasks/{id}/events",
        "/v2/pools/{id}/reload",
        "/v1/chat/completions"
      ]))
    }))

  it.effect("non-streaming /v1/completions answers the whole text, in order, with the usage", () =>
    Effect.gen(function*() {
      const response = yield* postJson("/v1/completions", { model: "mock-model", prompt: "x", max_tokens: 4 })
      expect(response.status).toBe(200)
      expect(yield* json(response)).toMatchObject({
        object: "text_completion",
        model: "mock-model",
        choices: [{ index: 0, text: "tok0 tok1 tok2 tok3 ", finish_reason: "length" }],
        usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 }
      })
    }))

  it.effect("/health, /ready and /metrics", () =>
    Effect.gen(function*() {
      expect((yield* call("/health")).status).toBe(200)
      expect(yield* call("/ready").pipe(Effect.flatMap(json))).toMatchObject({ status: "ready", ready_pools: 1 })
      const metrics = yield* call("/metrics")
      expect(metrics.status).toBe(200)
      expect(metrics.headers.get("content-type")).toContain("text/plain")
      // with the pools embedded, /metrics reports them too
      const text = yield* Effect.promise(() => metrics.text())
      expect(text).toMatch(/^pool_managerd_pool_slots\{[^}]*pool_id="mock-0"[^}]*\} 4$/m)
      expect(text).toMatch(/^pool_managerd_pool_ready\{[^}]*pool_id="mock-0"[^}]*\} 1$/m)
    }))
})

class Mode extends Context.Tag("test/Mode")<Mode, Ref.Ref<"ok" | "reject" | "unavailable">>() {}

const rejecting = Ref.make<"ok" | "reject" | "unavailable">("reject")

describe("backpressure", () => {
  layer(
    Layer.unwrapEffect(
      Effect.map(rejecting, (mode) =>
        Layer.merge(
          serve(Layer.merge(FakeOrchestrator.layer({ mode }), TestPools.layer)),
          Layer.succeed(Mode, mode)
        ))
    ),
    { excludeTestServices: true }
  )("429 and 503", (it) => {
    it.effect("429 ADMISSION_REJECT carries Retry-After, X-Backoff-Ms and the advisory fields", () =>
      Effect.gen(function*() {
        const response = yield* postJson("/v2/tasks", { model_ref: "mock-model", prompt: "x", max_tokens: 1 })
        expect(response.status).toBe(429)
        expect(response.headers.get("retry-after")).toBe("2")
        expect(response.headers.get("x-backoff-ms")).toBe("1500")
        expect(yield* json(response)).toEqual({
          code: "ADMISSION_REJECT",
          message: expect.any(String),
          retriable: true,
          retry_after_ms: 1500,
          policy_label: "reject"
        })
      }))

    it.effect("503 POOL_UNAVAILABLE carries the same headers (Retry-After at least 1 s)", () =>
      Effect.gen(function*() {
        const mode = yield* Mode
        yield* Ref.set(mode, "unavailable")
        const response = yield* postJson("/v2/tasks", { model_ref: "mock-model", prompt: "x", max_tokens: 1 })
        expect(response.status).toBe(503)
        expect(response.headers.get("retry-after")).toBe("1")
        expect(response.headers.get("x-backoff-ms")).toBe("250")
        expect(yield* json(response)).toMatchObject({
          code: "POOL_UNAVAILABLE",
          retriable: true,
          retry_after_ms: 250,
          policy_label: "pool-manager-unavailable"
        })
      }))
  })
})

describe("bearer auth", () => {
  layer(
    serve(Layer.merge(FakeOrchestrator.layer(), TestPools.layer), { token: Redacted.make("s3cret") }),
    { excludeTestServices: true }
  )("with a token", (it) => {
    it.effect("refuses missing and wrong tokens with 401, lets /health and /metrics through", () =>
      Effect.gen(function*() {
        const missing = yield* call("/v2/pools")
        expect(missing.status).toBe(401)
        expect(yield* json(missing)).toMatchObject({ code: "UNAUTHORIZED" })
        expect((yield* call("/v2/pools", { headers: { authorization: "Bearer nope" } })).status).toBe(401)
        expect((yield* call("/v2/pools", { headers: { authorization: "Bearer s3cret" } })).status).toBe(200)
        expect((yield* call("/health")).status).toBe(200)
        expect((yield* call("/metrics")).status).toBe(200)
        const openAi = yield* call("/v1/models")
        expect(openAi.status).toBe(401)
        expect(yield* json(openAi)).toMatchObject({ error: { type: "authentication_error" } })
      }))
  })
})
