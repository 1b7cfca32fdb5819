import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import OpenAI from "openai"
import { embed, embeddingSize } from "../src/internal/embeddings.js"
import { postJson, TestLayer, withEngine } from "./helpers.js"

/** The official OpenAI client, pointed at an engine. */
const client = (url: string) => new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 })

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const weather = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" }, days: { type: "integer" }, unit: { enum: ["c", "f"] } },
      required: ["city"]
    }
  }
}

describe("mock-engine OpenAI features (with the official openai client)", () => {
  it.scopedLive("calls a tool when asked, streamed as tool-call deltas and whole", () =>
    withEngine({}, (engine) =>
      Effect.gen(function*() {
        const openai = client(engine.url)
        const messages = [{ role: "user" as const, content: "what is get_weather for Paris?" }]
        const whole = yield* promise(() =>
          openai.chat.completions.create({ model: "m", messages, tools: [weather], seed: 3 })
        )
        const choice = whole.choices[0]
        expect(choice?.finish_reason).toBe("tool_calls")
        const call = choice?.message.tool_calls?.[0]
        expect(call?.type).toBe("function")
        if (call?.type !== "function") return
        expect(call.function.name).toBe("get_weather")
        const args: unknown = JSON.parse(call.function.arguments)
        expect(args).toMatchObject({ days: 7, unit: "c" })
        expect(typeof (args as { city: unknown }).city).toBe("string")

        // the streaming client's own accumulation gives the same call
        const stream = openai.chat.completions.stream({ model: "m", messages, tools: [weather], seed: 3 })
        const final = yield* promise(() => stream.finalChatCompletion())
        const streamed = final.choices[0]?.message.tool_calls?.[0]
        expect(streamed?.type === "function" ? streamed.function : undefined).toEqual(call.function)
        expect(streamed?.id).toMatch(/^call_/)
        expect(final.choices[0]?.finish_reason).toBe("tool_calls")

        // no mention and tool_choice auto: plain text; "none": never a call
        const plain = yield* promise(() =>
          openai.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }], tools: [weather] })
        )
        expect(plain.choices[0]?.message.tool_calls).toBeUndefined()
        expect(plain.choices[0]?.message.content).toMatch(/^ [a-z]/)
      })).pipe(Effect.provide(TestLayer)))

  it.scopedLive("answers JSON for response_format, n choices and log probabilities", () =>
    withEngine({}, (engine) =>
      Effect.gen(function*() {
        const openai = client(engine.url)
        const schema = { type: "object", properties: { name: { type: "string" }, age: { type: "integer" } } }
        const json = yield* promise(() =>
          openai.chat.completions.create({
            model: "m",
            messages: [{ role: "user", content: "a person" }],
            response_format: { type: "json_schema", json_schema: { name: "person", schema } }
          })
        )
        expect(JSON.parse(json.choices[0]?.message.content ?? "")).toMatchObject({ age: 7 })
        const two = yield* promise(() =>
          openai.chat.completions.create({
            model: "m",
            messages: [{ role: "user", content: "hi" }],
            n: 2,
            logprobs: true,
            top_logprobs: 2,
            max_tokens: 4
          })
        )
        expect(two.choices.map((c) => c.index)).toEqual([0, 1])
        expect(two.choices[0]?.message.content).not.toEqual(two.choices[1]?.message.content)
        const logprobs = two.choices[0]?.logprobs?.content ?? []
        expect(logprobs).toHaveLength(4)
        expect(logprobs[0]?.top_logprobs).toHaveLength(2)
        expect(two.usage?.completion_tokens).toBe(8)

        const text = yield* promise(() =>
          openai.completions.create({ model: "m", prompt: "x", logprobs: 1, max_tokens: 3, n: 2 })
        )
        expect(text.choices).toHaveLength(2)
        expect(text.choices[0]?.logprobs?.tokens).toHaveLength(3)
      })).pipe(Effect.provide(TestLayer)))

  it.scopedLive("serves deterministic embeddings with --embeddings (floats and base64), 501 without", () =>
    Effect.gen(function*() {
      yield* withEngine({ embeddings: true }, (engine) =>
        Effect.gen(function*() {
          const openai = client(engine.url)
          // the client asks for base64 by default and decodes it
          const answer = yield* promise(() => openai.embeddings.create({ model: "m", input: ["a", "b"] }))
          expect(answer.data).toHaveLength(2)
          expect(answer.data[0]?.embedding).toHaveLength(embeddingSize)
          expect(answer.data[0]?.embedding).toEqual(embed("a", embeddingSize))
          const floats = yield* postJson(`${engine.url}/v1/embeddings`, { input: "a", encoding_format: "float" })
          expect(floats.body).toMatchObject({ data: [{ embedding: embed("a", embeddingSize) }] })
        }))
      yield* withEngine({}, (engine) =>
        Effect.gen(function*() {
          const refused = yield* postJson(`${engine.url}/v1/embeddings`, { input: "a" })
          expect(refused.status).toBe(501)
        }))
    }).pipe(Effect.provide(TestLayer)))
})
