/**
 * A client that sends a whole body over `max_body_bytes` (1 MiB by default) to a real orchestratord
 * must read the documented 413, every time: not a reset connection (EPIPE / ECONNRESET) because the
 * server closed while it was still writing.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { Context, Effect, Layer } from "effect"
import { request } from "node:http"
import { fileURLToPath } from "node:url"
import { privateStateHome } from "./fixtures/processes.js"

const MiB = 1024 * 1024
const root = fileURLToPath(new URL("../../..", import.meta.url))
const entry = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

class Daemon extends Context.Tag("test/OversizeDaemon")<Daemon, SpawnDaemon.RunningDaemon>() {}

// a real process: the client and the server must not share an event loop, or the server always
// reads in step with the client's writes and the race never shows
const DaemonLive = Layer.scoped(
  Daemon,
  Effect.flatMap(
    privateStateHome,
    (env) => SpawnDaemon.spawnDaemon({ entry, args: ["--port", "0"], env, cwd: root, startTimeout: "120 seconds" })
  )
).pipe(Layer.provide(NodeContext.layer))

/** Sends the whole `body` (declared, or chunked), like an ordinary client, then reads the answer:
 * its status, or the socket error that came instead. */
const post = (url: string, body: Buffer, declare: boolean) =>
  Effect.async<number | string>((resume) => {
    // agent: false asks for `connection: close`, as one-shot clients (curl, scripts) do
    const req = request(`${url}/v2/tasks`, {
      method: "POST",
      agent: false,
      headers: { "content-type": "application/json", ...(declare ? { "content-length": body.length } : {}) }
    })
    req.on("response", (res) => {
      res.resume()
      res.on("end", () => resume(Effect.succeed(res.statusCode ?? 0)))
    })
    req.on("error", (error: NodeJS.ErrnoException) => resume(Effect.succeed(error.code ?? error.message)))
    req.end(body)
    return Effect.sync(() => req.destroy())
  })

layer(DaemonLive, { excludeTestServices: true, timeout: 120_000 })("bodies over max_body_bytes", (it) => {
  for (const size of [2, 4, 8]) {
    it.effect(`a ${size} MiB body gets a 413 every time (30 runs, declared and chunked)`, () =>
      Effect.gen(function*() {
        const { url } = yield* Daemon
        const body = Buffer.alloc(size * MiB, "x")
        const answers: Array<number | string> = []
        for (let run = 0; run < 30; run++) answers.push(yield* post(url, body, run % 2 === 0))
        expect(answers).toEqual(Array.from({ length: 30 }, () => 413))
      }), 60_000)
  }
})
