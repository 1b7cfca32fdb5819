import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Exit, Fiber, Layer, Queue } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { EngineAdapter, EngineTransport, NodeEngineTransport } from "../src/index.js"
import { task } from "./helpers/harness.js"

const event = (fields: object) => `data: ${JSON.stringify(fields)}\n\n`
const final = event({ content: "", stop: true, tokens_predicted: 2, tokens_evaluated: 3 })

/** What a test server saw: connections opened and closed, requests and their bodies. */
interface Seen {
  connections: number
  closed: number
  bodies: Array<string>
}

/**
 * A real HTTP server on 127.0.0.1 answering each request with `handler`; closed with the scope.
 * `onClose` fires when a connection closes.
 */
const server = (
  handler: (req: http.IncomingMessage, res: http.ServerResponse, index: number) => void,
  onClose: () => void = () => {}
) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.async<{ readonly url: string; readonly seen: Seen; readonly s: http.Server }>((resume) => {
        const seen: Seen = { connections: 0, closed: 0, bodies: [] }
        const s = http.createServer((req, res) => {
          let body = ""
          req.on("data", (chunk: Buffer) => body += chunk.toString())
          req.on("end", () => {
            seen.bodies.push(body)
            handler(req, res, seen.bodies.length - 1)
          })
        })
        s.on("connection", (socket) => {
          seen.connections++
          socket.on("close", () => {
            seen.closed++
            onClose()
          })
        })
        s.listen(0, "127.0.0.1", () =>
          resume(Effect.succeed({ url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, seen, s })))
      }),
      ({ s }) =>
        Effect.async<void>((resume) => {
          s.closeAllConnections()
          s.close(() =>
            resume(Effect.void)
          )
        })
    ),
    ({ seen, url }) => ({ seen, url })
  )

/** `EngineAdapter.runWith` over the Node transport, with the pieces it delivered. */
const runOn = (url: string, transportOptions: NodeEngineTransport.Options = {}) =>
  Effect.gen(function*() {
    const transport = yield* NodeEngineTransport.make(transportOptions)
    const texts: Array<string> = []
    const result = yield* EngineAdapter.runWith(
      transport,
      { url, protocol: "llamacpp", model: "m" },
      task(),
      (text) => texts.push(text)
    ).pipe(Effect.either)
    return { result, texts }
  })

/** One task to `url` over `transport`, its pieces dropped. */
const runTaskOn = (transport: EngineTransport.EngineTransportService, url: string) =>
  EngineAdapter.runWith(transport, { url, protocol: "llamacpp", model: "m" }, task(), () => {})

describe("NodeEngineTransport", () => {
  it.scoped("sends the task as JSON and hands over each piece in order, then the engine's counters", () =>
    Effect.gen(function*() {
      const { seen, url } = yield* server((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(event({ content: "he", stop: false }))
        res.write(event({ content: "llo", stop: false }) + final)
        res.end()
      })
      const { result, texts } = yield* runOn(url)
      expect(texts).toEqual(["he", "llo"])
      expect(Either.getOrThrow(result)).toEqual({ _tag: "Done", tokensIn: 3, tokensOut: 2, decodeMs: undefined })
      expect(JSON.parse(seen.bodies[0] ?? "")).toMatchObject({ prompt: expect.any(String), n_predict: 8, stream: true })
    }))

  it.scoped("fails with the status and the start of the body of a refusal, and on a body cut short", () =>
    Effect.gen(function*() {
      const refused = yield* server((_req, res) => {
        res.writeHead(503, { "content-type": "text/plain" })
        res.end("loading model")
      })
      const answer = yield* runOn(refused.url)
      expect(Either.isLeft(answer.result) && answer.result.left).toMatchObject({
        status: 503,
        reason: "engine answered loading model"
      })

      const cut = yield* server((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(event({ content: "a", stop: false }), () => setTimeout(() => res.destroy(), 5))
      })
      const broken = yield* runOn(cut.url)
      expect(broken.texts).toEqual(["a"])
      expect(Either.isLeft(broken.result) && broken.result.left.reason).toContain("connection failed")

      const short = yield* server((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.end(event({ content: "a", stop: false }))
      })
      const ended = yield* runOn(short.url)
      expect(Either.isLeft(ended.result) && ended.result.left.reason).toBe("stream ended before the final event")

      const garbage = yield* server((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write("data: {not json\n\n")
      })
      const malformed = yield* runOn(garbage.url)
      expect(Either.isLeft(malformed.result) && malformed.result.left.reason).toBe("malformed llama.cpp event")
    }))

  it.live("keeps its connection: three tasks in a row use one", () =>
    Effect.gen(function*() {
      const { seen, url } = yield* server((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.end(event({ content: "x", stop: false }) + final)
      })
      const transport = yield* NodeEngineTransport.make()
      for (let i = 0; i < 3; i++) {
        expect((yield* runTaskOn(transport, url)).tokensOut).toBe(2)
        // the connection goes back to its pool once the end of the body is read, a moment later
        yield* Effect.sleep(1)
      }
      expect(seen.connections).toBe(1)
    }).pipe(Effect.scoped))

  it.live("answers at the final event while the body stays open; the drain limit or closing the transport cuts it", () =>
    Effect.gen(function*() {
      const closes = yield* Queue.unbounded<void>()
      const { seen, url } = yield* server((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(event({ content: "x", stop: false }) + final) // and never ends
      }, () => Queue.unsafeOffer(closes, undefined))

      // a limit far away: the answer comes with the body still open; closing the transport cuts it
      yield* Effect.scoped(Effect.gen(function*() {
        const { result, texts } = yield* runOn(url, { drainAfterDoneMs: 600_000 })
        expect(texts).toEqual(["x"])
        expect(Either.isRight(result)).toBe(true)
        expect(seen.closed).toBe(0)
      }))
      yield* Queue.take(closes)

      // no time allowed: the request is cut in the background, the transport still open
      const { result } = yield* runOn(url, { drainAfterDoneMs: 0 })
      expect(Either.isRight(result)).toBe(true)
      yield* Queue.take(closes)
    }).pipe(Effect.scoped))

  it.live("aborting the signal aborts the request, and the task fails", () =>
    Effect.gen(function*() {
      const socketClosed = yield* Deferred.make<void>()
      const { url } = yield* server((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(event({ content: "x", stop: false })) // and nothing more
      }, () => Deferred.unsafeDone(socketClosed, Exit.void))
      const transport = yield* NodeEngineTransport.make()
      const abort = new AbortController()
      // the watchdog's way: abort from outside once the task is under way
      const result = yield* EngineAdapter.runWith(
        transport,
        { url, protocol: "llamacpp", model: "m" },
        task(),
        () => abort.abort(),
        abort.signal
      ).pipe(Effect.either)
      expect(Either.isLeft(result) && result.left.reason).toBe("aborted")
      yield* Deferred.await(socketClosed)
    }).pipe(Effect.scoped))

  it.live("interrupting a task aborts its request", () =>
    Effect.gen(function*() {
      const socketClosed = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const { url } = yield* server((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(event({ content: "x", stop: false }))
        Deferred.unsafeDone(started, Exit.void)
      }, () => Deferred.unsafeDone(socketClosed, Exit.void))
      const fiber = yield* Effect.fork(runOn(url))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      yield* Deferred.await(socketClosed)
    }).pipe(Effect.scoped))

  it.live("sends again on a fresh connection when a kept-alive one turns out closed before any answer", () =>
    Effect.gen(function*() {
      // the second request on a connection finds it closed (as an engine's idle timeout would)
      const perSocket = new WeakMap<object, number>()
      const { seen, url } = yield* server((req, res) => {
        const n = (perSocket.get(req.socket) ?? 0) + 1
        perSocket.set(req.socket, n)
        if (n > 1) return req.socket.destroy()
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.end(event({ content: "x", stop: false }) + final)
      })
      const transport = yield* NodeEngineTransport.make()
      for (let i = 0; i < 2; i++) {
        // the first connection must be back in the pool before the second task
        yield* Effect.sleep(10)
        expect((yield* runTaskOn(transport, url)).tokensOut).toBe(2)
      }
      expect(seen.connections).toBe(2)
    }).pipe(Effect.scoped))

  it.scoped("EngineAdapter.run takes the transport from context, and falls back to the HttpClient", () =>
    Effect.gen(function*() {
      const { seen, url } = yield* server((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.end(event({ content: "x", stop: false }) + final)
      })
      const target = { url, protocol: "llamacpp", model: "m" } as const
      const counted = Layer.effect(
        EngineTransport.EngineTransport,
        Effect.map(NodeEngineTransport.make(), (inner) => ({
          post: (u: string, body: string, onBytes: (bytes: Uint8Array) => EngineTransport.Verdict) =>
            Effect.zipRight(Effect.sync(() => used.count++), inner.post(u, body, onBytes))
        }))
      )
      const used = { count: 0 }
      yield* EngineAdapter.run(target, task(), () => {}).pipe(
        Effect.provide(Layer.merge(counted, NodeHttpClient.layerUndici))
      )
      expect(used.count).toBe(1)
      yield* EngineAdapter.run(target, task(), () => {}).pipe(Effect.provide(NodeHttpClient.layerUndici))
      expect(used.count).toBe(1)
      expect(seen.bodies).toHaveLength(2)
    }))
})
