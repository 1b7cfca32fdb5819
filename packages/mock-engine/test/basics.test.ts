import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import packageJson from "../package.json" with { type: "json" }
import { mockEngineCommand } from "../src/index.js"
import { getJson, metric, payloads, postJson, postSse, TestLayer, withEngine } from "./helpers.js"

describe("mock-engine basics", () => {
  it.scopedLive("prints the listening line with the real port and serves /health", () =>
    withEngine({}, (engine) =>
      Effect.gen(function*() {
        expect(engine.host).toBe("127.0.0.1")
        expect(engine.port).toBeGreaterThan(0)
        expect(engine.url).toBe(`http://127.0.0.1:${engine.port}`)
        const health = yield* getJson(`${engine.url}/health`)
        expect(health).toEqual({ status: 200, body: { status: "ok" } })
      })).pipe(Effect.provide(TestLayer)))

  it.scopedLive("reports the device memory it claims to use in /health", () =>
    withEngine({ footprintMb: 1536 }, (engine) =>
      Effect.gen(function*() {
        const health = yield* getJson(`${engine.url}/health`)
        expect(health).toEqual({ status: 200, body: { status: "ok", footprint_mb: 1536 } })
      })).pipe(Effect.provide(TestLayer)))

  it.scopedLive("answers /props, /slots, /v1/models and 404 for unknown routes", () =>
    withEngine({ model: "tiny", slots: 2, ctx: 2048 }, (engine) =>
      Effect.gen(function*() {
        const props = yield* getJson(`${engine.url}/props`)
        expect(props.body).toMatchObject({
          default_generation_settings: { n_ctx: 2048, model: "tiny" },
          total_slots: 2,
          model_path: "tiny"
        })
        const slots = yield* getJson(`${engine.url}/slots`)
        expect(slots.body).toMatchObject([
          { id: 0, n_ctx: 2048, is_processing: false },
          { id: 1, n_ctx: 2048, is_processing: false }
        ])
        const models = yield* getJson(`${engine.url}/v1/models`)
        expect(models.body).toMatchObject({ object: "list", data: [{ id: "tiny", object: "model" }] })
        const missing = yield* getJson(`${engine.url}/nope`)
        expect(missing).toEqual({
          status: 404,
          body: { error: { code: 404, message: "File Not Found", type: "not_found_error" } }
        })
      })).pipe(Effect.provide(TestLayer)))

  it.scopedLive("/completion streams SSE tokens and a final summary", () =>
    withEngine({}, (engine) =>
      Effect.gen(function*() {
        const result = yield* postSse(`${engine.url}/completion`, { prompt: "Hello there", n_predict: 5, stream: true })
        expect(result.status).toBe(200)
        expect(result.contentType).toContain("text/event-stream")
        const events = payloads(result)
        expect(events).toHaveLength(6)
        events.slice(0, 5).forEach((event, i) => {
          expect(event).toMatchObject({ stop: false, id_slot: 0, tokens_predicted: i + 1 })
          expect(event.content).toMatch(/^ [a-z]+$/)
        })
        expect(events[5]).toMatchObject({
          content: "",
          stop: true,
          stop_type: "limit",
          tokens_predicted: 5,
          tokens_evaluated: 3,
          timings: { prompt_n: 3, predicted_n: 5 }
        })
        expect(yield* metric(engine.url, "llamacpp:tokens_predicted_total")).toBe(5)
        expect(yield* metric(engine.url, "llamacpp:prompt_tokens_total")).toBe(3)
      })).pipe(Effect.provide(TestLayer)))

  it.scopedLive("/completion without stream answers one JSON with the same content", () =>
    withEngine({}, (engine) =>
      Effect.gen(function*() {
        const whole = yield* postJson(`${engine.url}/completion`, { prompt: "Hello there", n_predict: 5 })
        const streamed = yield* postSse(`${engine.url}/completion`, {
          prompt: "Hello there",
          n_predict: 5,
          stream: true
        })
        const text = payloads(streamed).map((e) => e.content).join("")
        expect(whole.status).toBe(200)
        expect(whole.body).toMatchObject({ content: text, stop: true, stop_type: "limit", tokens_predicted: 5 })
      })).pipe(Effect.provide(TestLayer)))

  it.scopedLive("rejects bad JSON and bad types with llama-server errors", () =>
    withEngine({}, (engine) =>
      Effect.gen(function*() {
        const badJson = yield* postJson(`${engine.url}/completion`, "{not json")
        expect(badJson.status).toBe(400)
        expect(badJson.body).toMatchObject({ error: { code: 400, type: "invalid_request_error" } })
        const badType = yield* postJson(`${engine.url}/completion`, { prompt: "x", n_predict: "many" })
        expect(badType.status).toBe(400)
        expect(badType.body).toMatchObject({ error: { code: 400, type: "invalid_request_error" } })
        const openAi = yield* postJson(`${engine.url}/v1/chat/completions`, { messages: "hi" })
        expect(openAi.status).toBe(400)
        expect(openAi.body).toMatchObject({ error: { type: "invalid_request_error" } })
      })).pipe(Effect.provide(TestLayer)))

  it.live("mockEngineCommand runs the engine from any working directory (--version)", () =>
    Effect.promise(() =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const line = mockEngineCommand()
        const child = spawn(line.command, [...line.args, "--version"], { cwd: "/tmp" })
        let out = ""
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString()
        })
        child.on("close", (code) => resolve({ code, out }))
      })
    ).pipe(Effect.map(({ code, out }) => {
      expect(code).toBe(0)
      expect(out.trim()).toBe(`version: ${packageJson.version} (mock-engine)`)
    })))
})
