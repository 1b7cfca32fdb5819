import { describe, expect, layer } from "@effect/vitest"
import { Effect, FastCheck, Layer } from "effect"
import * as FakeOrchestrator from "./fixtures/FakeOrchestrator.js"
import { baseUrl, serve } from "./fixtures/server.js"
import * as TestPools from "./fixtures/TestPools.js"

const server = serve(Layer.merge(FakeOrchestrator.layer({ tokenDelayMs: 1 }), TestPools.layer))

const field = FastCheck.oneof(
  FastCheck.constant("model_ref"),
  FastCheck.constant("prompt"),
  FastCheck.constant("messages"),
  FastCheck.constant("max_tokens"),
  FastCheck.constant("priority"),
  FastCheck.constant("temperature"),
  FastCheck.constant("top_p"),
  FastCheck.constant("stop"),
  FastCheck.constant("deadline_ms"),
  FastCheck.constant("placement"),
  FastCheck.constant("task_id"),
  FastCheck.constant("session_id"),
  FastCheck.string()
)

/** Bodies: arbitrary JSON values, objects over the request's own keys, and raw (often broken) text. */
const body = FastCheck.oneof(
  FastCheck.json(),
  FastCheck.dictionary(field, FastCheck.jsonValue()).map((o) => JSON.stringify(o)),
  FastCheck.record({
    model_ref: FastCheck.oneof(FastCheck.constant("mock-model"), FastCheck.string()),
    prompt: FastCheck.oneof(FastCheck.string(), FastCheck.integer(), FastCheck.constant(null)),
    max_tokens: FastCheck.oneof(FastCheck.integer({ min: -5, max: 3 }), FastCheck.double(), FastCheck.string())
  }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
  FastCheck.string()
)

describe("POST /v2/tasks fuzz", () => {
  layer(server, { excludeTestServices: true })("property", (it) => {
    it.effect("never answers 5xx: 202 or a typed 4xx envelope", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const samples = FastCheck.sample(body, { numRuns: 300, seed: 4242 })
        for (const text of samples) {
          const response = yield* Effect.promise(() =>
            fetch(`${url}/v2/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: text })
          )
          const payload: unknown = yield* Effect.promise(() => response.json())
          if (response.status === 202) {
            expect(payload).toHaveProperty("task_id")
            continue
          }
          expect([400, 404, 413]).toContain(response.status)
          expect(payload).toMatchObject({ code: expect.any(String), message: expect.any(String), retriable: false })
        }
      }), 60_000)

    it.effect("property over the body arbitrary: the status is always below 500", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        yield* Effect.promise(() =>
          FastCheck.assert(
            FastCheck.asyncProperty(body, async (text) => {
              const response = await fetch(`${url}/v2/tasks`, { method: "POST", body: text })
              await response.arrayBuffer()
              return response.status < 500 && response.headers.get("x-correlation-id") !== null
            }),
            { numRuns: 150 }
          )
        )
      }), 60_000)
  })
})
