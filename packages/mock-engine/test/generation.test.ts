import { afterAll, expect, layer } from "@effect/vitest"
import { Context, Effect, Layer, Schema } from "effect"
import { MockEngine } from "../src/index.js"
import { assertGone, decodeAs, payloads, postJson, postSse, TestLayer } from "./helpers.js"

class Engine extends Context.Tag("test/Engine")<Engine, MockEngine.RunningMockEngine>() {}

const spawned: Array<number> = []

const EngineLive = Layer.scoped(
  Engine,
  MockEngine.start({ model: "gen-model" }).pipe(Effect.tap((engine) => Effect.sync(() => spawned.push(engine.pid))))
).pipe(Layer.provide(TestLayer))

afterAll(() => Effect.runPromise(assertGone(spawned)), 60_000)

const completion = (body: Record<string, unknown>) =>
  Effect.flatMap(Engine, (engine) => postJson(`${engine.url}/completion`, body))

const LlamaResult = Schema.Struct({ content: Schema.String, tokens_predicted: Schema.Number })
const TextChoices = Schema.Struct({ choices: Schema.Array(Schema.Struct({ text: Schema.String })) })
const ChatChoices = Schema.Struct({
  choices: Schema.Array(Schema.Struct({ message: Schema.Struct({ content: Schema.String }) }))
})
const DeltaChoices = Schema.Struct({
  choices: Schema.Array(Schema.Struct({ delta: Schema.Struct({ content: Schema.optional(Schema.String) }) }))
})
const WithTimings = Schema.Struct({ timings: Schema.Unknown }, { key: Schema.String, value: Schema.Unknown })

const content = (res: { readonly body: unknown }): string => decodeAs(LlamaResult)(res.body).content

const withoutTimings = (body: unknown) => {
  const { timings: _, ...rest } = decodeAs(WithTimings)(body)
  return rest
}

layer(EngineLive, { excludeTestServices: true, timeout: 120_000 })("mock-engine generation", (it) => {
  it.effect("is deterministic for (prompt, seed) and varies with either", () =>
    Effect.gen(function*() {
      const a = content(yield* completion({ prompt: "The quick brown fox", n_predict: 12, seed: 42 }))
      const b = content(yield* completion({ prompt: "The quick brown fox", n_predict: 12, seed: 42 }))
      const otherSeed = content(yield* completion({ prompt: "The quick brown fox", n_predict: 12, seed: 43 }))
      const otherPrompt = content(yield* completion({ prompt: "The slow brown fox", n_predict: 12, seed: 42 }))
      expect(a.split(" ").slice(1)).toHaveLength(12)
      expect(a).toMatch(/^( [a-z]+){12}$/)
      expect(b).toBe(a)
      expect(otherSeed).not.toBe(a)
      expect(otherPrompt).not.toBe(a)
      const engine = yield* Engine
      const streamed = yield* postSse(`${engine.url}/completion`, {
        prompt: "The quick brown fox",
        n_predict: 12,
        seed: 42,
        stream: true
      })
      expect(payloads(streamed).map((e) => e.content).join("")).toBe(a)
    }))

  it.effect("n_predict -1 generates until end of sequence (stop_type eos), deterministically", () =>
    Effect.gen(function*() {
      const first = yield* completion({ prompt: "tell me a story", n_predict: -1, seed: 1 })
      const second = yield* completion({ prompt: "tell me a story", n_predict: -1, seed: 1 })
      expect(first.body).toMatchObject({ stop: true, stop_type: "eos" })
      expect(withoutTimings(second.body)).toEqual(withoutTimings(first.body))
    }))

  it.effect("a stop string ends the generation early (stop_type word, text before the stop)", () =>
    Effect.gen(function*() {
      const full = content(yield* completion({ prompt: "stop me", n_predict: 12, seed: 7 }))
      const words = full.split(" ").slice(1)
      const stop = ` ${words[5]} ${words[6]}`
      const expected = full.slice(0, full.indexOf(stop))
      const stopped = yield* completion({ prompt: "stop me", n_predict: 12, seed: 7, stop: [stop, "never-matches"] })
      expect(stopped.body).toMatchObject({
        content: expected,
        stop_type: "word",
        stopping_word: stop
      })
      const predicted = decodeAs(LlamaResult)(stopped.body).tokens_predicted
      expect(predicted).toBe(7)
      const engine = yield* Engine
      const openAi = yield* postJson(`${engine.url}/v1/completions`, {
        prompt: "stop me",
        max_tokens: 12,
        seed: 7,
        stop
      })
      expect(openAi.body).toMatchObject({ choices: [{ text: expected, finish_reason: "stop" }] })
    }))

  it.effect("a prompt larger than the context is rejected", () =>
    Effect.gen(function*() {
      const res = yield* completion({ prompt: "x".repeat(4 * 5000), n_predict: 4 })
      expect(res.status).toBe(400)
      expect(res.body).toMatchObject({ error: { code: 400, type: "exceed_context_size_error" } })
    }))

  it.effect("OpenAI /v1/completions: whole and streamed", () =>
    Effect.gen(function*() {
      const engine = yield* Engine
      const whole = yield* postJson(`${engine.url}/v1/completions`, { prompt: "Once upon a time", seed: 5 })
      expect(whole.status).toBe(200)
      expect(whole.body).toMatchObject({
        object: "text_completion",
        model: "gen-model",
        choices: [{ index: 0, finish_reason: "length" }],
        usage: { prompt_tokens: 4, completion_tokens: 16, total_tokens: 20 }
      })
      const text = decodeAs(TextChoices)(whole.body).choices[0]?.text
      const streamed = yield* postSse(`${engine.url}/v1/completions`, {
        prompt: "Once upon a time",
        seed: 5,
        max_tokens: 16,
        stream: true
      })
      expect(streamed.data.at(-1)).toBe("[DONE]")
      const chunks = payloads(streamed)
      expect(chunks).toHaveLength(17)
      chunks.forEach((chunk) => expect(chunk).toMatchObject({ object: "text_completion", model: "gen-model" }))
      expect(chunks.at(-1)).toMatchObject({ choices: [{ text: "", finish_reason: "length" }] })
      const joined = chunks.map((c) => decodeAs(TextChoices)(c).choices[0]?.text ?? "").join("")
      expect(joined).toBe(text)
    }))

  it.effect("OpenAI /v1/chat/completions: whole, streamed (role first, finish, usage, [DONE])", () =>
    Effect.gen(function*() {
      const engine = yield* Engine
      const messages = [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi!" }]
      const whole = yield* postJson(`${engine.url}/v1/chat/completions`, { messages, max_tokens: 6, seed: 9 })
      expect(whole.status).toBe(200)
      expect(whole.body).toMatchObject({
        object: "chat.completion",
        model: "gen-model",
        choices: [{ index: 0, message: { role: "assistant" }, finish_reason: "length" }],
        usage: { completion_tokens: 6 }
      })
      const answer = decodeAs(ChatChoices)(whole.body).choices[0]?.message.content
      expect(answer).toMatch(/^( [a-z]+){6}$/)
      const streamed = yield* postSse(`${engine.url}/v1/chat/completions`, {
        messages,
        max_tokens: 6,
        seed: 9,
        stream: true,
        stream_options: { include_usage: true }
      })
      expect(streamed.data.at(-1)).toBe("[DONE]")
      const chunks = payloads(streamed)
      chunks.forEach((chunk) => expect(chunk.object).toBe("chat.completion.chunk"))
      expect(chunks[0]).toMatchObject({ choices: [{ delta: { role: "assistant" }, finish_reason: null }] })
      const deltas = chunks.slice(1, 7).map((c) => decodeAs(DeltaChoices)(c).choices[0]?.delta.content)
      expect(deltas.join("")).toBe(answer)
      expect(chunks[7]).toMatchObject({ choices: [{ delta: {}, finish_reason: "length" }] })
      expect(chunks[8]).toMatchObject({ choices: [], usage: { completion_tokens: 6 } })
      expect(chunks).toHaveLength(9)
      const withoutUsage = yield* postSse(`${engine.url}/v1/chat/completions`, {
        messages,
        max_tokens: 6,
        stream: true
      })
      expect(payloads(withoutUsage)).toHaveLength(8)
    }))
})
