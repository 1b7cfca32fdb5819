import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, TestClock } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { EngineAdapter } from "../src/index.js"
import { fakeEngine, llamaTokens } from "./helpers/fakes.js"
import { task } from "./helpers/harness.js"

const llama = { url: "http://e", protocol: "llamacpp", model: "m" } as const

/** `EngineAdapter.run` with the pieces it delivered, in order. */
const runCollecting = (target: EngineAdapter.EngineTarget = llama) => {
  const texts: Array<string> = []
  return EngineAdapter.run(target, task(), (text) => texts.push(text)).pipe(
    Effect.either,
    Effect.map((result) => ({ result, texts }))
  )
}

describe("EngineAdapter.run (push form)", () => {
  it.effect("delivers every piece in order as it is decoded, then answers the engine's counters", () =>
    Effect.gen(function*() {
      const engine = fakeEngine(() => llamaTokens(["he", "llo", " world"]))
      const { result, texts } = yield* runCollecting().pipe(Effect.provide(engine.layer))
      expect(texts).toEqual(["he", "llo", " world"])
      expect(Either.getOrThrow(result)).toEqual({ _tag: "Done", tokensIn: 3, tokensOut: 3, decodeMs: undefined })
    }))

  it.effect("fails with EngineFailure on garbage, on a body that ends before the final event, and on a break", () =>
    Effect.gen(function*() {
      const garbage = fakeEngine(() => ({ events: [JSON.stringify({ content: "a" }), "{not json"], then: "close" }))
      const bad = yield* runCollecting().pipe(Effect.provide(garbage.layer))
      expect(bad.texts).toEqual(["a"])
      expect(Either.isLeft(bad.result) && bad.result.left.reason).toBe("malformed llama.cpp event")

      const short = fakeEngine(() => ({ events: [JSON.stringify({ content: "a" })], then: "close" }))
      const ended = yield* runCollecting().pipe(Effect.provide(short.layer))
      expect(Either.isLeft(ended.result) && ended.result.left.reason).toBe("stream ended before the final event")

      const broken = fakeEngine(() => ({ events: [JSON.stringify({ content: "a" })], then: "break" }))
      const reset = yield* runCollecting().pipe(Effect.provide(broken.layer))
      expect(Either.isLeft(reset.result) && reset.result.left.reason).toContain("connection failed")
    }))

  it.effect("an engine that keeps the body open after the final event is cut after one second", () =>
    Effect.gen(function*() {
      const engine = fakeEngine(() => ({ ...llamaTokens(["a"]), then: "hang" }))
      const fiber = yield* Effect.fork(runCollecting().pipe(Effect.provide(engine.layer)))
      for (let i = 0; i < 9; i++) yield* TestClock.adjust("100 millis")
      expect(fiber.unsafePoll()).toBeNull()
      for (let i = 0; i < 50 && fiber.unsafePoll() === null; i++) yield* TestClock.adjust("100 millis")
      const { result, texts } = yield* Fiber.join(fiber)
      expect(texts).toEqual(["a"])
      expect(Either.isRight(result)).toBe(true)
      expect(engine.log.aborted).toBe(1)
    }))

  it.live("reads the body to its end after the final event, so the next task reuses the keep-alive connection", () =>
    Effect.gen(function*() {
      // a real server that ends each response 20 ms after its final event, counting connections
      const connections = { count: 0 }
      const server = yield* Effect.acquireRelease(
        Effect.async<http.Server>((resume) => {
          const s = http.createServer((_req, res) => {
            res.writeHead(200, { "content-type": "text/event-stream" })
            res.write(`data: ${JSON.stringify({ content: "x", stop: false })}\n\n`)
            res.write(`data: ${JSON.stringify({ content: "", stop: true, tokens_predicted: 1 })}\n\n`)
            setTimeout(() => res.end(), 20)
          })
          s.on("connection", () => connections.count++)
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) =>
          Effect.async<void>((resume) => {
            s.closeAllConnections()
            s.close(() => resume(Effect.void))
          })
      )
      const target = {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        protocol: "llamacpp",
        model: "m"
      } as const
      for (let i = 0; i < 3; i++) {
        const { result, texts } = yield* runCollecting(target)
        expect(texts).toEqual(["x"])
        expect(Either.isRight(result)).toBe(true)
        // the socket goes back to the pool a moment after the response ends
        yield* Effect.sleep(20)
      }
      // (a body cut at the final event costs its connection: five or six for the three tasks)
      expect(connections.count).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))
})
