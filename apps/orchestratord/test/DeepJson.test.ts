/**
 * Deeply nested JSON bodies: a typed 400 with a short message, not a 500 from a stack overflow
 * while the Schema error was formatted.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as FakeOrchestrator from "./fixtures/FakeOrchestrator.js"
import { baseUrl, serve } from "./fixtures/server.js"
import * as TestPools from "./fixtures/TestPools.js"

const server = serve(Layer.merge(FakeOrchestrator.layer({ tokenDelayMs: 1 }), TestPools.layer))

const deepArray = (depth: number) => "[".repeat(depth) + "]".repeat(depth)
const deepObject = (depth: number) => "{\"a\":".repeat(depth) + "1" + "}".repeat(depth)

const cases = [
  { path: "/v2/tasks", body: `{"model_ref":"mock-model","prompt":${deepArray(3000)}}` },
  { path: "/v2/tasks", body: `{"model_ref":"mock-model","prompt":"hi","placement":${deepObject(3000)}}` },
  { path: "/v1/chat/completions", body: `{"model":"mock-model","messages":${deepArray(3000)}}` },
  {
    path: "/v1/chat/completions",
    body: `{"model":"mock-model","messages":[{"role":"user","content":${deepObject(3000)}}]}`
  }
]

layer(server, { excludeTestServices: true })("deeply nested JSON", (it) => {
  it.effect("3000 levels: 400 with a short message on both APIs", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      for (const { body, path } of cases) {
        const response = yield* Effect.promise(() =>
          fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body })
        )
        const text = yield* Effect.promise(() => response.text())
        expect({ path, status: response.status }).toEqual({ path, status: 400 })
        expect(text.length).toBeLessThan(400)
        expect(text).toContain("nests deeper than 64 levels")
      }
    }))

  it.effect("a body nested within the limit is still decoded normally", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const response = yield* Effect.promise(() =>
        fetch(`${url}/v2/tasks`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: `{"model_ref":"mock-model","prompt":${deepArray(40)}}`
        })
      )
      const text = yield* Effect.promise(() => response.text())
      expect(response.status).toBe(400)
      expect(text).not.toContain("nests deeper")
    }))
})
