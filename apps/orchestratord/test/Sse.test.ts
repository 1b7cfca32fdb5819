import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import { ShutdownSignal } from "@llama-orch/daemon-kit"
import { Deferred, Effect, Layer, Schedule } from "effect"
import { createServer } from "node:http"
import * as net from "node:net"
import * as Sse from "../src/Sse.js"

describe("Sse.push", () => {
  it.live("frames queued before the head and frames written after it reach the client whole and in order", () =>
    Effect.gen(function*() {
      const total = 600
      const frameOf = (i: number) => `id: ${i}\nevent: token\ndata: {"t":"é✓ ${i}"}\n\n`
      const app = HttpRouter.empty.pipe(HttpRouter.get(
        "/events",
        Sse.push(
          (emit) =>
            Effect.gen(function*() {
              // queued in the body before the server has written the head
              for (let i = 0; i < 50; i++) emit.frame(frameOf(i))
              let next = 50
              // one per tick of the queue that also carries the server's head and the pipe's start
              const tick = () => {
                emit.frame(frameOf(next++))
                if (next < 100) process.nextTick(tick)
              }
              process.nextTick(tick)
              // then bursts on a timer, some while the first frames may still be in the pipe
              yield* Effect.sync(() => {
                for (let n = 0; n < 25 && next < total; n++) emit.frame(frameOf(next++))
                if (next === total) emit.end()
              }).pipe(Effect.repeat(Schedule.spaced("1 millis")), Effect.forkScoped)
            }),
          { heartbeatMs: 60_000, final: "" }
        )
      ))
      const port = yield* HttpServer.serveEffect(app).pipe(
        Effect.zipRight(HttpServer.addressWith((a) => Effect.succeed(a._tag === "TcpAddress" ? a.port : 0)))
      )
      const text = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/events`).then((r) => r.text()))
      const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))
      expect(ids).toEqual(Array.from({ length: total }, (_, i) => i))
      expect(text).toContain(frameOf(total - 1))
      expect(text.startsWith("retry: 1000\n\n")).toBe(true)
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(
        NodeHttpServer.layer(() => createServer(), { port: 0, host: "127.0.0.1" }),
        ShutdownSignal.layer
      ))
    ))

  it.live("cuts a client that stops reading once the buffer limit is passed, and ends what the stream started", () =>
    Effect.gen(function*() {
      const released = yield* Deferred.make<void>()
      const frame = `data: ${"x".repeat(64 * 1024)}\n\n`
      // a source that writes 64 KiB frames as fast as the timer allows, until its scope closes
      const app = HttpRouter.empty.pipe(HttpRouter.get(
        "/events",
        Sse.push(
          (emit) =>
            Effect.sync(() => emit.frame(frame)).pipe(
              Effect.repeat(Schedule.spaced("1 millis")),
              Effect.ensuring(Deferred.succeed(released, undefined)),
              Effect.forkScoped
            ),
          { heartbeatMs: 60_000, final: "", maxBufferedBytes: 256 * 1024 }
        )
      ))
      const port = yield* HttpServer.serveEffect(app).pipe(
        Effect.zipRight(HttpServer.addressWith((a) => Effect.succeed(a._tag === "TcpAddress" ? a.port : 0)))
      )
      // a client that sends its request and reads nothing
      const socket = yield* Effect.acquireRelease(
        Effect.async<net.Socket>((resume) => {
          const s = net.connect(port, "127.0.0.1", () => {
            s.pause()
            s.write("GET /events HTTP/1.1\r\nhost: localhost\r\n\r\n")
            resume(Effect.succeed(s))
          })
          s.on("error", () => {})
        }),
        (s) => Effect.sync(() => s.destroy())
      )
      // the server gives up on it: the source is stopped while the client still reads nothing
      yield* Deferred.await(released).pipe(Effect.timeout("60 seconds"))
      // and the connection was ended: once the client reads what it was sent, it sees the end
      const ended = yield* Effect.async<string>((resume) => {
        socket.on("close", () => resume(Effect.succeed("closed")))
        socket.resume()
      }).pipe(Effect.timeout("60 seconds"))
      expect(ended).toBe("closed")
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(
        NodeHttpServer.layer(() => createServer(), { port: 0, host: "127.0.0.1" }),
        ShutdownSignal.layer
      ))
    ))
})
