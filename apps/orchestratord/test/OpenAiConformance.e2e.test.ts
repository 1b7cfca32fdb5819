/**
 * The OpenAI surface with the official `openai` client against orchestratord as a real process,
 * over two real mock engines: one of the `openai` protocol (as vLLM; started with embeddings), one
 * of the `llamacpp` protocol (as llama-server). What agents rely on — tool calls, JSON output, `n`,
 * log probabilities, the usage chunk, `system_fingerprint`, `GET /v1/models/{id}`, embeddings —
 * reaches the engine and comes back; what an engine cannot do is a 400 naming the `param`.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Context, Effect, Layer, Schedule } from "effect"
import OpenAI from "openai"
import { spawnWithConfig } from "./fixtures/daemon.js"

class Client extends Context.Tag("test/Client")<Client, { readonly url: string; readonly openai: OpenAI }>() {}

const ClientLive = Layer.scoped(
  Client,
  Effect.gen(function*() {
    const daemon = yield* spawnWithConfig([
      "engines:",
      "  - { name: vllm-like, mock: true, protocol: openai, args: [\"--embeddings\"] }",
      "  - { name: llama-like, mock: true }",
      "pools:",
      "  - { id: oa, engine: vllm-like, model: model-oa, slots: 2 }",
      "  - { id: ll, engine: llama-like, model: model-ll, slots: 2 }"
    ])
    // both pools Ready
    yield* Effect.tryPromise(() => fetch(`${daemon.url}/v2/pools`).then((r) => r.json() as Promise<unknown>)).pipe(
      Effect.filterOrFail((body) => JSON.stringify(body).split("\"state\":\"Ready\"").length === 3),
      Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("120 seconds"))),
      Effect.orDie
    )
    return { url: daemon.url, openai: new OpenAI({ baseURL: `${daemon.url}/v1`, apiKey: "none", maxRetries: 0 }) }
  })
).pipe(Layer.provide(NodeContext.layer))

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)
/** The error an OpenAI client call fails with. */
const failure = <A>(f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (e) => e }).pipe(Effect.flip, Effect.orDie)

const weather = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } } }
  }
}
const ask = [{ role: "user" as const, content: "call get_weather for Paris" }]

/** The bytes of a stream with its ids, timestamps and generated words replaced by placeholders. */
const normalized = (text: string) =>
  text
    .replace(/"id":"(chatcmpl|cmpl)-[^"]+"/g, "\"id\":\"<ID>\"")
    .replace(/"created":\d+/g, "\"created\":<T>")
    .replace(/"(content|text)":" [a-z]+"/g, "\"$1\":\"<W>\"")

layer(ClientLive, { excludeTestServices: true, timeout: 180_000 })("OpenAI conformance (official client)", (it) => {
  for (const model of ["model-oa", "model-ll"]) {
    it.effect(`tool calls come back whole and streamed, and the agent loop goes on (${model})`, () =>
      Effect.gen(function*() {
        const { openai } = yield* Client
        const whole = yield* promise(() =>
          openai.chat.completions.create({ model, messages: ask, tools: [weather], tool_choice: "required", seed: 1 })
        )
        const choice = whole.choices[0]
        expect(choice?.finish_reason).toBe("tool_calls")
        expect(choice?.message.content).toBeNull()
        const call = choice?.message.tool_calls?.[0]
        if (call?.type !== "function") return expect.fail("no function call")
        expect(call.function.name).toBe("get_weather")
        expect(JSON.parse(call.function.arguments)).toMatchObject({ days: 7 })
        // the engine's own fingerprint: llama.cpp chat went to the engine's OpenAI endpoint
        expect(whole.system_fingerprint).toBe("b0-mock-engine")

        const stream = openai.chat.completions.stream({
          model,
          messages: ask,
          tools: [weather],
          tool_choice: "required",
          seed: 1
        })
        const deltas: Array<unknown> = []
        stream.on("chunk", (chunk) => deltas.push(chunk.choices[0]?.delta.tool_calls))
        const final = yield* promise(() => stream.finalChatCompletion())
        const streamed = final.choices[0]?.message.tool_calls?.[0]
        expect(streamed?.type === "function" ? streamed.function : undefined).toEqual(call.function)
        expect(final.choices[0]?.finish_reason).toBe("tool_calls")
        expect(deltas.filter((d) => d !== undefined).length).toBeGreaterThan(1)

        // the tool's answer goes back with the call, and the model answers in text
        const next = yield* promise(() =>
          openai.chat.completions.create({
            model,
            messages: [
              ...ask,
              { role: "assistant", content: null, tool_calls: [call] },
              { role: "tool", tool_call_id: call.id, content: "sunny, 21 C" }
            ],
            tools: [weather],
            tool_choice: "none"
          })
        )
        expect(next.choices[0]?.message.content).toMatch(/^ [a-z]/)
        expect(next.choices[0]?.finish_reason).toBe("length")
      }))
  }

  it.effect("response_format json_schema gives JSON that follows the schema", () =>
    Effect.gen(function*() {
      const { openai } = yield* Client
      const schema = { type: "object", properties: { name: { type: "string" }, age: { type: "integer" } } }
      for (const model of ["model-oa", "model-ll"]) {
        const answer = yield* promise(() =>
          openai.chat.completions.create({
            model,
            messages: [{ role: "user", content: "a person" }],
            response_format: { type: "json_schema", json_schema: { name: "person", schema } }
          })
        )
        expect(JSON.parse(answer.choices[0]?.message.content ?? "")).toMatchObject({ age: 7, name: expect.any(String) })
      }
    }))

  it.effect("n choices and log probabilities on the openai engine; n > 1 on llama.cpp is a 400 naming n", () =>
    Effect.gen(function*() {
      const { openai } = yield* Client
      const two = yield* promise(() =>
        openai.chat.completions.create({
          model: "model-oa",
          messages: [{ role: "user", content: "hi" }],
          n: 2,
          logprobs: true,
          top_logprobs: 1,
          max_tokens: 3
        })
      )
      expect(two.choices.map((c) => c.index)).toEqual([0, 1])
      expect(two.choices[0]?.message.content).not.toEqual(two.choices[1]?.message.content)
      expect(two.choices[0]?.logprobs?.content).toHaveLength(3)
      expect(two.choices[1]?.logprobs?.content).toHaveLength(3)
      expect(two.usage?.completion_tokens).toBe(6)

      // streamed: the client puts the deltas of each index together
      const streamed = yield* promise(() =>
        openai.chat.completions.stream({
          model: "model-oa",
          messages: [{ role: "user", content: "hi" }],
          n: 2,
          max_tokens: 3
        }).finalChatCompletion()
      )
      expect(streamed.choices.map((c) => c.message.content)).toEqual(two.choices.map((c) => c.message.content))
      expect(streamed.choices.map((c) => c.finish_reason)).toEqual(["length", "length"])

      const text = yield* promise(() =>
        openai.completions.create({ model: "model-oa", prompt: "x", logprobs: 2, max_tokens: 3 })
      )
      expect(text.choices[0]?.logprobs?.tokens).toHaveLength(3)

      const refused = yield* failure(() =>
        openai.chat.completions.create({ model: "model-ll", messages: [{ role: "user", content: "hi" }], n: 2 })
      )
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError)
      expect(refused).toMatchObject({ status: 400, param: "n" })

      const badTool = yield* failure(() =>
        openai.chat.completions.create({
          model: "model-oa",
          messages: ask,
          tools: [{ type: "function", function: { name: "not a name" } }]
        })
      )
      expect(badTool).toMatchObject({ status: 400, param: "tools.0.function.name" })
    }))

  it.effect("stream_options.include_usage adds the usage chunk, and no other chunk carries usage", () =>
    Effect.gen(function*() {
      const { openai } = yield* Client
      for (const model of ["model-oa", "model-ll"]) {
        const chunks: Array<OpenAI.ChatCompletionChunk> = []
        const stream = yield* promise(() =>
          openai.chat.completions.create({
            model,
            messages: [{ role: "user", content: "count" }],
            max_tokens: 4,
            stream: true,
            stream_options: { include_usage: true }
          })
        )
        for (
          const chunk of yield* promise(async () => {
            for await (const c of stream) chunks.push(c)
            return chunks
          })
        ) expect(chunk.object).toBe("chat.completion.chunk")
        const last = chunks[chunks.length - 1]
        expect(last?.choices).toEqual([])
        // the mock counts a prompt as ceil(chars / 4) of the chat its template renders
        expect(last?.usage).toEqual({ prompt_tokens: 8, completion_tokens: 4, total_tokens: 12 })
        expect(chunks.slice(0, -1).every((c) => c.usage == null)).toBe(true)
        expect(chunks[chunks.length - 2]?.choices[0]?.finish_reason).toBe("length")

        const plain = yield* promise(() =>
          openai.chat.completions.create({
            model,
            messages: [{ role: "user", content: "count" }],
            max_tokens: 4,
            stream: true
          })
        )
        const seen: Array<OpenAI.ChatCompletionChunk> = []
        yield* promise(async () => {
          for await (const c of plain) seen.push(c)
        })
        expect(seen.some((c) => c.usage != null)).toBe(false)
      }
    }))

  it.effect("GET /v1/models/{id} answers a served model and 404 for others", () =>
    Effect.gen(function*() {
      const { openai } = yield* Client
      const model = yield* promise(() => openai.models.retrieve("model-oa"))
      expect(model).toMatchObject({ id: "model-oa", object: "model", owned_by: "llama-orch" })
      const missing = yield* failure(() => openai.models.retrieve("nope"))
      expect(missing).toBeInstanceOf(OpenAI.NotFoundError)
      const list = yield* promise(() => openai.models.list())
      expect(list.data.map((m) => m.id)).toEqual(["model-ll", "model-oa"])
    }))

  it.effect("embeddings come from an engine serving them; one that does not is a 400", () =>
    Effect.gen(function*() {
      const { openai } = yield* Client
      // the client asks for base64 and decodes it: the engine's answer is relayed as it came
      const answer = yield* promise(() => openai.embeddings.create({ model: "model-oa", input: ["a", "b", "a"] }))
      expect(answer.model).toBe("model-oa")
      expect(answer.data.map((d) => d.index)).toEqual([0, 1, 2])
      const [a, b, again] = answer.data.map((d) => d.embedding)
      expect(a).toHaveLength(16)
      expect(Math.hypot(...(a ?? []))).toBeCloseTo(1, 5)
      expect(again).toEqual(a)
      expect(b).not.toEqual(a)
      const floats = yield* promise(() =>
        openai.embeddings.create({ model: "model-oa", input: "a", encoding_format: "float" })
      )
      expect(floats.data[0]?.embedding).toEqual(a)

      const refused = yield* failure(() => openai.embeddings.create({ model: "model-ll", input: "a" }))
      expect(refused).toMatchObject({ status: 400 })
      expect(String((refused as { message?: unknown }).message)).toMatch(/embeddings/)
      const unknown = yield* failure(() => openai.embeddings.create({ model: "nope", input: "a" }))
      expect(unknown).toMatchObject({ status: 404 })
    }))

  it.effect("chat and completions streams are OpenAI's documented framing, which the Python openai client (and LiteLLM, LangChain-py) parse event by event as JSON", () =>
    Effect.gen(function*() {
      const { url } = yield* Client
      const stream = (path: string, body: object) =>
        promise(() =>
          fetch(`${url}${path}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ model: "model-oa", max_tokens: 2, stream: true, ...body })
          }).then(async (r) => ({ type: r.headers.get("content-type"), text: await r.text() }))
        )
      const head = "\"id\":\"<ID>\",\"object\":\"chat.completion.chunk\",\"created\":<T>,\"model\":\"model-oa\""
      const chat = yield* stream("/v1/chat/completions", { messages: [{ role: "user", content: "hi" }] })
      expect(chat.type).toMatch(/^text\/event-stream/)
      expect(normalized(chat.text)).toBe(
        ": ok\n\n" +
          `data: {${head},"choices":[{"index":0,"delta":{"role":"assistant","content":"<W>"},"logprobs":null,"finish_reason":null}]}\n\n` +
          `data: {${head},"choices":[{"index":0,"delta":{"content":"<W>"},"logprobs":null,"finish_reason":null}]}\n\n` +
          `data: {${head},"system_fingerprint":"b0-mock-engine","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}]}\n\n` +
          "data: [DONE]\n\n"
      )
      const textHead = "\"id\":\"<ID>\",\"object\":\"text_completion\",\"created\":<T>,\"model\":\"model-oa\""
      const text = yield* stream("/v1/completions", { prompt: "hi" })
      expect(normalized(text.text)).toBe(
        ": ok\n\n" +
          `data: {${textHead},"choices":[{"index":0,"text":"<W>","logprobs":null,"finish_reason":null}]}\n\n` +
          `data: {${textHead},"choices":[{"index":0,"text":"<W>","logprobs":null,"finish_reason":null}]}\n\n` +
          `data: {${textHead},"system_fingerprint":"b0-mock-engine","choices":[{"index":0,"text":"","logprobs":null,"finish_reason":"length"}]}\n\n` +
          "data: [DONE]\n\n"
      )
    }))
})
