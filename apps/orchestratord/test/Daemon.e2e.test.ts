/**
 * orchestratord as a real process with no configuration: the built-in mock pool, real mock engine
 * processes, real HTTP, the official OpenAI client, and a clean SIGTERM.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, expect, layer } from "@effect/vitest"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Schedule } from "effect"
import type { EventSourceMessage } from "eventsource-parser"
import OpenAI from "openai"
import { shutdownFinishReason } from "../src/OpenAiSchemas.js"
import { spawnDefaultDaemon, submit } from "./fixtures/daemon.js"
import { childPids, isAlive, waitGone } from "./fixtures/processes.js"
import { nth, readSse } from "./fixtures/sse.js"

class Daemon extends Context.Tag("test/Daemon")<Daemon, SpawnDaemon.RunningDaemon>() {}

const DaemonLive = Layer.scoped(Daemon, spawnDefaultDaemon).pipe(Layer.provide(NodeContext.layer))

layer(DaemonLive, { excludeTestServices: true, timeout: 180_000 })("orchestratord process (no config)", (it) => {
  it.effect("serves the mock pool: /v2/pools lists mock-0 serving mock-model, Ready", () =>
    Effect.gen(function*() {
      const { url } = yield* Daemon
      const pools: unknown = yield* Effect.promise(() => fetch(`${url}/v2/pools`).then((r) => r.json()))
      expect(pools).toMatchObject({
        pools: [{ pool_id: "mock-0", model: "mock-model", state: "Ready", metrics: { slots_total: 4 } }]
      })
      // the embedded pools are on orchestratord's /metrics, next to the task metrics
      const metrics = yield* Effect.promise(() => fetch(`${url}/metrics`).then((r) => r.text()))
      expect(metrics).toMatch(/^pool_managerd_pool_slots\{[^}]*pool_id="mock-0"[^}]*\} 4$/m)
      expect(metrics).toMatch(/^pool_managerd_pool_state\{[^}]*pool_id="mock-0"[^}]*state="Ready"[^}]*\} 1$/m)
    }), 60_000)

  it.effect(
    "streams a full task through a real engine: ids 1..n, started first, tokens in order, end last",
    () =>
      Effect.gen(function*() {
        const { url } = yield* Daemon
        const { taskId } = yield* submit(url, { max_tokens: 6 })
        const response = yield* Effect.promise(() => fetch(`${url}/v2/tasks/${taskId}/events`))
        const { events } = yield* Effect.promise(() => readSse(response))
        expect(events.map((e) => Number(e.id))).toEqual(events.map((_, i) => i + 1))
        expect(nth(events, 0).event).toBe("started")
        const tokens = events.filter((e) => e.event === "token").map((e): unknown => JSON.parse(e.data))
        expect(tokens).toEqual([0, 1, 2, 3, 4, 5].map((i) => ({ t: expect.any(String), i })))
        expect(nth(events, -1).event).toBe("end")
        expect(JSON.parse(nth(events, -1).data)).toMatchObject({ tokens_out: 6 })
      }),
    60_000
  )

  it.effect("Last-Event-ID resumes a live task without loss or duplicates", () =>
    Effect.gen(function*() {
      const { url } = yield* Daemon
      const { taskId } = yield* submit(url, { max_tokens: 12 })
      const first = yield* Effect.promise(() => fetch(`${url}/v2/tasks/${taskId}/events`))
      const head = yield* Effect.promise(() => readSse(first, (events) => events.some((e) => e.event === "token")))
      const lastId = nth(head.events, -1).id ?? ""
      const second = yield* Effect.promise(() =>
        fetch(`${url}/v2/tasks/${taskId}/events`, { headers: { "last-event-id": lastId } })
      )
      const tail = yield* Effect.promise(() => readSse(second))
      const all = [...head.events, ...tail.events]
      expect(all.map((e) => Number(e.id))).toEqual(all.map((_, i) => i + 1))
      expect(all.filter((e) => e.event === "token")).toHaveLength(12)
      expect(nth(all, -1).event).toBe("end")
    }), 60_000)

  it.effect("cancel mid-stream: the stream ends with CANCELLED and nothing follows it", () =>
    Effect.gen(function*() {
      const { url } = yield* Daemon
      const { taskId } = yield* submit(url, { max_tokens: 2000 })
      const response = yield* Effect.promise(() => fetch(`${url}/v2/tasks/${taskId}/events`))
      let tokenSeen = () => {}
      const firstToken = new Promise<void>((resolve) => (tokenSeen = resolve))
      const reading = yield* Effect.fork(Effect.promise(() =>
        readSse(response, undefined, (events) => {
          if (events.some((e) => e.event === "token")) tokenSeen()
        })
      ))
      // cancel once the task streams: mid-stream, whatever the machine's speed
      yield* Effect.promise(() => firstToken)
      const cancel = yield* Effect.promise(() => fetch(`${url}/v2/tasks/${taskId}/cancel`, { method: "POST" }))
      expect(cancel.status).toBe(204)
      const { events } = yield* reading.await.pipe(Effect.flatten)
      const last = nth(events, -1)
      expect(last.event).toBe("failed")
      expect(JSON.parse(last.data)).toMatchObject({ code: "CANCELLED", retriable: false })
      expect(events.filter((e) => e.event === "token").length).toBeLessThan(2000)
      const snapshot: unknown = yield* Effect.promise(() => fetch(`${url}/v2/tasks/${taskId}`).then((r) => r.json()))
      expect(snapshot).toMatchObject({ state: "cancelled" })
    }), 60_000)

  it.effect("the openai client lists models and chats through /v1, streaming and not", () =>
    Effect.gen(function*() {
      const { url } = yield* Daemon
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "not-needed", maxRetries: 0 })
      const models = yield* Effect.promise(() => client.models.list())
      expect(models.data.map((m) => m.id)).toEqual(["mock-model"])
      const chat = yield* Effect.promise(() =>
        client.chat.completions.create({
          model: "mock-model",
          messages: [{ role: "user", content: "Say something" }],
          max_tokens: 5
        })
      )
      expect(chat.object).toBe("chat.completion")
      expect(nth(chat.choices, 0).message.content?.length).toBeGreaterThan(0)
      expect(chat.usage?.completion_tokens).toBe(5)
      expect(nth(chat.choices, 0).finish_reason).toBe("length")
      const stream = yield* Effect.promise(() =>
        client.chat.completions.create({
          model: "mock-model",
          messages: [{ role: "user", content: "Say something" }],
          max_tokens: 5,
          stream: true
        })
      )
      const parts: Array<string> = []
      const finishes: Array<string> = []
      yield* Effect.promise(async () => {
        for await (const chunk of stream) {
          const choice = chunk.choices[0]
          if (choice?.delta.content) parts.push(choice.delta.content)
          if (choice?.finish_reason) finishes.push(choice.finish_reason)
        }
      })
      expect(parts).toHaveLength(5)
      expect(finishes).toEqual(["length"])
      const completion = yield* Effect.promise(() =>
        client.completions.create({ model: "mock-model", prompt: "Once", max_tokens: 3 })
      )
      expect(nth(completion.choices, 0).text.length).toBeGreaterThan(0)
      const unknown = yield* Effect.promise(() =>
        client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] }).then(
          () => undefined,
          (error: unknown) => error
        )
      )
      assert(unknown instanceof OpenAI.APIError)
      expect(unknown.status).toBe(404)
      expect(unknown.code).toBe("model_not_found")
    }), 90_000)

  it.effect(
    "/v1 streams carry only data events and comments, as OpenAI's framing (no retry:, id: or event:)",
    () =>
      Effect.gen(function*() {
        const { url } = yield* Daemon
        for (
          const [path, body] of [
            ["/v1/chat/completions", { messages: [{ role: "user", content: "hi" }] }],
            ["/v1/completions", { prompt: "hi" }]
          ] as const
        ) {
          const text = yield* Effect.promise(() =>
            fetch(`${url}${path}`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ model: "mock-model", max_tokens: 3, stream: true, ...body })
            }).then((r) => r.text())
          )
          const events = text.split("\n\n").filter((e) => e !== "")
          // every event is one `data:` line (JSON, or the final [DONE]) or a comment
          for (const event of events) expect(event).toMatch(/^(data: .+|:.*)$/)
          const data = events.filter((e) => e.startsWith("data: ")).map((e) => e.slice(6))
          expect(data.at(-1)).toBe("[DONE]")
          for (const d of data.slice(0, -1)) expect(() => JSON.parse(d)).not.toThrow()
          expect(data.length).toBeGreaterThanOrEqual(4)
        }
      }),
    90_000
  )

  it.effect("a client that disconnects from a streaming chat cancels its task", () =>
    Effect.gen(function*() {
      const { url } = yield* Daemon
      const controller = new AbortController()
      const response = yield* Effect.promise(() =>
        fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            model: "mock-model",
            messages: [{ role: "user", content: "long" }],
            max_tokens: 3000,
            stream: true
          }),
          signal: controller.signal
        })
      )
      const id = yield* Effect.promise(async () => {
        const body = response.body
        if (body === null) return ""
        const reader = body.getReader()
        let text = ""
        while (!/"id":"chatcmpl-[^"]+"/.test(text)) {
          const { done, value } = await reader.read()
          if (done) break
          text += new TextDecoder().decode(value)
        }
        controller.abort()
        await reader.cancel().catch(() => undefined)
        return /"id":"chatcmpl-([^"]+)"/.exec(text)?.[1] ?? ""
      })
      expect(id).not.toBe("")
      const state = Effect.promise((): Promise<unknown> => fetch(`${url}/v2/tasks/${id}`).then((r) => r.json()))
      const cancelled = yield* state.pipe(
        Effect.filterOrFail(
          (s) => typeof s === "object" && s !== null && "state" in s && s.state === "cancelled",
          () => "not cancelled yet"
        ),
        Effect.retry(Schedule.spaced("100 millis")),
        Effect.timeout("20 seconds")
      )
      expect(cancelled).toMatchObject({ state: "cancelled" })
    }), 60_000)

  it.effect(
    "SIGTERM: open SSE streams end with a final event (/v1: a shutdown finish chunk, then [DONE]), the daemon " +
      "exits 0 and no engine is left",
    () =>
      Effect.gen(function*() {
        const daemon = yield* Daemon
        const engines = childPids(daemon.pid)
        expect(engines.length).toBeGreaterThan(0)
        const { taskId } = yield* submit(daemon.url, { max_tokens: 3000 })
        const v2 = yield* follow(
          fetch(`${daemon.url}/v2/tasks/${taskId}/events`),
          (events) => events.some((e) => e.event === "token")
        )
        const pools = yield* follow(
          fetch(`${daemon.url}/v2/pools/events`),
          (events) => events.some((e) => e.event === "snapshot")
        )
        const v1 = (path: string, body: Record<string, unknown>) =>
          follow(
            fetch(`${daemon.url}${path}`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ model: "mock-model", max_tokens: 3000, stream: true, ...body })
            }),
            (events) => events.some((e) => e.data.includes("\"content\":") || e.data.includes("\"text\":\""))
          )
        const chat = yield* v1("/v1/chat/completions", { messages: [{ role: "user", content: "long" }] })
        const text = yield* v1("/v1/completions", { prompt: "long" })
        // and through the official client, which must take the custom finish_reason
        const client = new OpenAI({ baseURL: `${daemon.url}/v1`, apiKey: "unused", maxRetries: 0 })
        const sdkStreaming = yield* Deferred.make<void>()
        const sdk = yield* Effect.fork(Effect.promise(async () => {
          const stream = await client.chat.completions.create({
            model: "mock-model",
            messages: [{ role: "user", content: "long" }],
            max_tokens: 3000,
            stream: true
          })
          const finishes: Array<string> = []
          for await (const chunk of stream) {
            const choice = chunk.choices[0]
            if (choice?.delta.content) Deferred.unsafeDone(sdkStreaming, Exit.void)
            if (choice?.finish_reason) finishes.push(choice.finish_reason)
          }
          return finishes
        }))
        // every stream is under way: signal only once tokens flow on each
        yield* Effect.all([v2.streaming, pools.streaming, chat.streaming, text.streaming, Deferred.await(sdkStreaming)])
        yield* daemon.signal("SIGTERM")
        const exit = yield* daemon.exit.pipe(Effect.timeout("60 seconds"))
        expect(exit).toEqual({ _tag: "Exited", code: 0 })
        for (const events of [yield* v2.events, yield* pools.events]) {
          const last = nth(events, -1)
          expect(last.event).toBe("failed")
          expect(JSON.parse(last.data)).toMatchObject({ retriable: true })
        }
        for (const events of [yield* chat.events, yield* text.events]) {
          const data = events.map((e) => e.data)
          expect(data.at(-1)).toBe("[DONE]")
          const finishes = data.slice(0, -1).map((d) => finishReason(JSON.parse(d)))
          // only the last chunk has a finish_reason, and it says why the stream ended
          expect(finishes.filter((f) => f !== null)).toEqual([shutdownFinishReason])
          expect(finishes.at(-1)).toBe(shutdownFinishReason)
        }
        expect(yield* Fiber.join(sdk)).toEqual([shutdownFinishReason])
        yield* waitGone(engines)
        expect(engines.filter(isAlive)).toEqual([])
      }),
    90_000
  )
})

/** Reads an event stream in the background; `streaming` resolves once `started` holds for its events. */
const follow = (
  request: Promise<Response>,
  started: (events: ReadonlyArray<EventSourceMessage>) => boolean
) =>
  Effect.gen(function*() {
    const streaming = yield* Deferred.make<void>()
    const reading = yield* Effect.fork(Effect.promise(async () => {
      const response = await request
      return readSse(response, undefined, (events) => {
        if (started(events)) Deferred.unsafeDone(streaming, Exit.void)
      })
    }))
    return { streaming: Deferred.await(streaming), events: Effect.map(Fiber.join(reading), (read) => read.events) }
  })

/** The `finish_reason` of a chunk's first choice (`undefined` when it has none). */
const finishReason = (chunk: unknown): unknown => {
  if (typeof chunk !== "object" || chunk === null || !("choices" in chunk) || !Array.isArray(chunk.choices)) {
    return undefined
  }
  const choice: unknown = chunk.choices[0]
  return typeof choice === "object" && choice !== null && "finish_reason" in choice ? choice.finish_reason : undefined
}
