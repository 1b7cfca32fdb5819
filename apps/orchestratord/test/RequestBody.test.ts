/**
 * Request bodies as they really arrive on a socket: whole with the headers (read at once), cut
 * anywhere (even inside a UTF-8 character), chunked, or over the limit. A handler that echoes what
 * `readJson` decoded shows nothing is lost or garbled on any of these paths.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { createServer } from "node:http"
import * as net from "node:net"
import { toResponse } from "../src/ErrorResponses.js"
import { readJson } from "../src/internal/body.js"
import * as ServerSettings from "../src/ServerSettings.js"

const limit = 4096

const Echo = HttpLayerRouter.add(
  "POST",
  "/echo",
  readJson(Schema.Struct({ prompt: Schema.String })).pipe(
    Effect.map((body) => HttpServerResponse.unsafeJson({ prompt: body.prompt })),
    Effect.catchAll((failure) => Effect.succeed(toResponse(failure)))
  )
)

const server = HttpLayerRouter.serve(Echo, { disableLogger: true, disableListenLog: true }).pipe(
  Layer.provide(ServerSettings.layer({ maxBodyBytes: limit })),
  Layer.provideMerge(NodeHttpServer.layer(() => createServer(), { port: 0, host: "127.0.0.1" }))
)

const port = HttpServer.addressWith((address) => Effect.succeed(address._tag === "TcpAddress" ? address.port : 0))

/** Writes `parts` on a fresh connection, each after the server has had a moment to read the one
 * before; answers the status and body of the response. */
const send = (parts: ReadonlyArray<string | Buffer>) =>
  Effect.flatMap(port, (p) =>
    Effect.async<{ status: number; body: string }, Error>((resume) => {
      const socket = net.connect(p, "127.0.0.1")
      const received: Array<Buffer> = []
      socket.on("data", (chunk) => received.push(chunk))
      socket.on("error", (error) => resume(Effect.fail(error)))
      socket.on("end", () => {
        const text = Buffer.concat(received).toString("utf8")
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)
        resume(Effect.succeed({ status, body: text.slice(text.indexOf("\r\n\r\n") + 4) }))
      })
      let next = 0
      const write = () => {
        const part = parts[next++]
        if (part === undefined) return
        socket.write(part)
        setTimeout(write, 25)
      }
      socket.on("connect", write)
      return Effect.sync(() => socket.destroy())
    }))

const head = (length: number | "chunked") =>
  `POST /echo HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nconnection: close\r\n${
    length === "chunked" ? "transfer-encoding: chunked" : `content-length: ${length}`
  }\r\n\r\n`

const prompt = "héllo — wörld 🦙 ".repeat(20)
const json = Buffer.from(JSON.stringify({ prompt }), "utf8")

layer(server, { excludeTestServices: true })("request bodies", (it) => {
  it.effect("a body that arrives with its headers", () =>
    Effect.gen(function*() {
      const answer = yield* send([Buffer.concat([Buffer.from(head(json.length)), json])])
      expect(answer.status).toBe(200)
      expect(JSON.parse(answer.body)).toEqual({ prompt })
    }))

  it.effect("a body cut in three, once inside a multi-byte character, after its headers", () =>
    Effect.gen(function*() {
      const cut = json.indexOf(Buffer.from("🦙")) + 2
      const answer = yield* send([head(json.length), json.subarray(0, 5), json.subarray(5, cut), json.subarray(cut)])
      expect(answer.status).toBe(200)
      expect(JSON.parse(answer.body)).toEqual({ prompt })
    }))

  it.effect("a chunked body", () =>
    Effect.gen(function*() {
      const half = json.length >> 1
      const chunk = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from("\r\n")])
      const answer = yield* send([
        Buffer.concat([Buffer.from(head("chunked")), chunk(json.subarray(0, half))]),
        Buffer.concat([chunk(json.subarray(half)), Buffer.from("0\r\n\r\n")])
      ])
      expect(answer.status).toBe(200)
      expect(JSON.parse(answer.body)).toEqual({ prompt })
    }))

  it.effect("bodies over the limit are refused with 413, declared or not", () =>
    Effect.gen(function*() {
      const big = Buffer.from(JSON.stringify({ prompt: "x".repeat(limit) }))
      const declared = yield* send([Buffer.concat([Buffer.from(head(big.length)), big])])
      expect(declared.status).toBe(413)
      const chunked = yield* send([
        Buffer.concat([Buffer.from(head("chunked")), Buffer.from(`${big.length.toString(16)}\r\n`), big]),
        Buffer.from("\r\n0\r\n\r\n")
      ])
      expect(chunked.status).toBe(413)
    }))

  it.effect("an empty body is a 400, not a wait", () =>
    Effect.gen(function*() {
      const answer = yield* send([head(0)])
      expect(answer.status).toBe(400)
      expect(answer.body).toContain("empty")
    }))
})
