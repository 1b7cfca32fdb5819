/**
 * What a web page open on the same machine can do to the default loopback setup (no token): both
 * daemons run as real processes and the "page" is this test process sending what a browser would
 * send — a `text/plain` POST, a cross-site POST with a foreign `Origin`, a request through a
 * rebinding name with a foreign `Host`, a WebSocket upgrade from a foreign origin. Each is refused
 * before it reaches a handler, while same-origin requests, configured origins (with CORS) and
 * non-browser clients go on working.
 */
import { FileSystem } from "@effect/platform"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, expect, layer } from "@effect/vitest"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { Context, Effect, Layer } from "effect"
import { fileURLToPath } from "node:url"
import { waitOk } from "./fixtures/processes.js"
import { rawRequest, upgradeHeaders } from "./fixtures/rawHttp.js"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const orchestratordEntry = fileURLToPath(new URL("../src/bin.ts", import.meta.url))
const poolManagerdEntry = fileURLToPath(new URL("../../pool-managerd/src/bin.ts", import.meta.url))
const appOrigin = "http://app.example:3000"
const evilOrigin = "http://evil.example"

interface Daemons {
  readonly orchestratord: string
  readonly poolManagerd: string
}
class Running extends Context.Tag("test/Running")<Running, Daemons>() {}

const RunningLive = Layer.scoped(
  Running,
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "browser-attacks-" })
    const guardKeys = [`allowed_origins: ["${appOrigin}"]`, "allowed_hosts: [llm.internal]"]
    yield* fs.writeFileString(
      `${dir}/pm.yaml`,
      [
        ...guardKeys,
        `state_dir: ${JSON.stringify(`${dir}/pm-state`)}`,
        "engines: [{ name: mock, mock: true }]",
        "pools: [{ id: gpu-0, engine: mock, model: mock-model }]"
      ].join("\n")
    )
    yield* fs.writeFileString(
      `${dir}/orch.yaml`,
      [...guardKeys, `state_dir: ${JSON.stringify(`${dir}/orch-state`)}`].join("\n")
    )
    const [pm, orch] = yield* Effect.all([
      SpawnDaemon.spawnDaemon({
        entry: poolManagerdEntry,
        args: ["--config", `${dir}/pm.yaml`, "--port", "0"],
        cwd: root
      }),
      SpawnDaemon.spawnDaemon({
        entry: orchestratordEntry,
        args: ["--config", `${dir}/orch.yaml`, "--port", "0"],
        cwd: root
      })
    ], { concurrency: 2 })
    yield* waitOk(`${orch.url}/ready`)
    return { orchestratord: orch.url, poolManagerd: pm.url }
  })
).pipe(Layer.provide(NodeContext.layer))

const hostOf = (url: string) => new URL(url).host

/** One `Register` call as the RPC's NDJSON framing carries it. */
const registerFrame = JSON.stringify({
  _tag: "Request",
  id: "1",
  tag: "Register",
  payload: { id: "planted", engine: "mock", model: "mock-model" },
  headers: []
}) + "\n"

const listFrame = JSON.stringify({ _tag: "Request", id: "1", tag: "List", payload: {}, headers: [] }) + "\n"

/** The pool ids pool-managerd reports, asked as a non-browser RPC client would. */
const poolIds = (url: string) =>
  Effect.map(
    rawRequest(`${url}/rpc`, {
      method: "POST",
      headers: { host: hostOf(url), "content-type": "application/ndjson" },
      body: listFrame
    }),
    // a Ready pool names itself twice (its status and its handoff)
    (response) => [...new Set([...response.body.matchAll(/"poolId":"([^"]+)"/g)].map((m) => m[1]))]
  )

layer(RunningLive, { excludeTestServices: true, timeout: 180_000 })("a web page against the loopback daemons", (it) => {
  it.effect("pool-managerd refuses a text/plain POST to /rpc (no preflight needed) and registers nothing", () =>
    Effect.gen(function*() {
      const { poolManagerd } = yield* Running
      for (
        const contentType of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
      ) {
        const response = yield* rawRequest(`${poolManagerd}/rpc`, {
          method: "POST",
          headers: { host: hostOf(poolManagerd), origin: evilOrigin, "content-type": contentType },
          body: registerFrame
        })
        expect(response.status).toBe(403)
      }
      // without an Origin (a page cannot omit it, but a form from a sandboxed frame sends "null")
      const plain = yield* rawRequest(`${poolManagerd}/rpc`, {
        method: "POST",
        headers: { host: hostOf(poolManagerd), "content-type": "text/plain" },
        body: registerFrame
      })
      expect(plain.status).toBe(415)
      expect(JSON.parse(plain.body)).toEqual({ code: "UNSUPPORTED_MEDIA_TYPE", message: expect.any(String) })
      const nullOrigin = yield* rawRequest(`${poolManagerd}/rpc`, {
        method: "POST",
        headers: { host: hostOf(poolManagerd), origin: "null", "content-type": "application/ndjson" },
        body: registerFrame
      })
      expect(nullOrigin.status).toBe(403)
      expect(yield* poolIds(poolManagerd)).toEqual(["gpu-0"])
    }))

  it.effect("pool-managerd refuses a WebSocket upgrade from a foreign origin and a foreign Host", () =>
    Effect.gen(function*() {
      const { poolManagerd } = yield* Running
      const host = hostOf(poolManagerd)
      const foreign = yield* rawRequest(`${poolManagerd}/rpc`, {
        method: "GET",
        headers: upgradeHeaders(host, { origin: evilOrigin })
      })
      expect(foreign.status).toBe(403)
      const rebound = yield* rawRequest(`${poolManagerd}/rpc`, {
        method: "GET",
        headers: upgradeHeaders(`evil.example:${new URL(poolManagerd).port}`)
      })
      expect(rebound.status).toBe(403)
      // a configured origin, the daemon's own origin and a client without Origin are upgraded
      for (const extra of [{ origin: appOrigin }, { origin: `http://${host}` }, {}]) {
        const allowed = yield* rawRequest(`${poolManagerd}/rpc`, {
          method: "GET",
          headers: upgradeHeaders(host, extra)
        })
        expect(allowed.status).toBe(101)
      }
      const health = yield* rawRequest(`${poolManagerd}/health`, {
        method: "GET",
        headers: { host: `evil.example:${new URL(poolManagerd).port}` }
      })
      expect(health.status).toBe(403)
      expect(health.body).not.toContain("gpu-0")
    }))

  it.effect("orchestratord answers a rebinding name (foreign Host) with 403 and no data", () =>
    Effect.gen(function*() {
      const { orchestratord } = yield* Running
      const port = new URL(orchestratord).port
      for (const path of ["/v2/pools", "/v1/models", "/health", "/metrics"]) {
        const response = yield* rawRequest(`${orchestratord}${path}`, {
          method: "GET",
          headers: { host: `evil.example:${port}` }
        })
        expect(response.status).toBe(403)
        expect(response.body).not.toContain("mock-0")
      }
      // loopback names and the configured name are served
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `llm.internal:${port}`, "LLM.internal."]) {
        const response = yield* rawRequest(`${orchestratord}/v2/pools`, { method: "GET", headers: { host } })
        expect(response.status).toBe(200)
      }
    }))

  it.effect("a cross-site drain is refused and the pool keeps serving; a JSON body is required", () =>
    Effect.gen(function*() {
      const { orchestratord } = yield* Running
      const host = hostOf(orchestratord)
      const drain = yield* rawRequest(`${orchestratord}/v2/pools/mock-0/drain`, {
        method: "POST",
        headers: { host, origin: evilOrigin, "content-type": "text/plain" },
        body: JSON.stringify({ deadline_ms: 0 })
      })
      expect(drain.status).toBe(403)
      expect(JSON.parse(drain.body)).toMatchObject({ code: "FORBIDDEN", retriable: false })
      const submit = yield* rawRequest(`${orchestratord}/v2/tasks`, {
        method: "POST",
        headers: { host, "content-type": "text/plain" },
        body: JSON.stringify({ model_ref: "mock-model", prompt: "hi", max_tokens: 1 })
      })
      expect(submit.status).toBe(415)
      expect(JSON.parse(submit.body)).toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE", retriable: false })
      const openAi = yield* rawRequest(`${orchestratord}/v1/chat/completions`, {
        method: "POST",
        headers: { host, "content-type": "application/x-www-form-urlencoded" },
        body: "model=mock-model"
      })
      expect(openAi.status).toBe(415)
      expect(JSON.parse(openAi.body)).toMatchObject({ error: { code: "unsupported_media_type" } })
      const health = yield* rawRequest(`${orchestratord}/v2/pools/mock-0/health`, { method: "GET", headers: { host } })
      expect(JSON.parse(health.body)).toMatchObject({ ready: true, draining: false })
    }))

  it.effect("CORS is opt-in: a configured origin gets its preflight and headers, others do not", () =>
    Effect.gen(function*() {
      const { orchestratord } = yield* Running
      const host = hostOf(orchestratord)
      const preflight = (origin: string) =>
        rawRequest(`${orchestratord}/v2/tasks`, {
          method: "OPTIONS",
          headers: {
            host,
            origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, authorization"
          }
        })
      const allowed = yield* preflight(appOrigin)
      expect(allowed.status).toBe(204)
      expect(allowed.headers["access-control-allow-origin"]).toBe(appOrigin)
      expect(allowed.headers["access-control-allow-methods"]).toContain("POST")
      expect(allowed.headers["access-control-allow-headers"]).toContain("authorization")
      const refused = yield* preflight(evilOrigin)
      expect(refused.status).toBe(403)
      expect(refused.headers["access-control-allow-origin"]).toBeUndefined()

      const submitted = yield* rawRequest(`${orchestratord}/v2/tasks`, {
        method: "POST",
        headers: { host, origin: appOrigin, "content-type": "application/json" },
        body: JSON.stringify({ model_ref: "mock-model", prompt: "hi", max_tokens: 1 })
      })
      expect(submitted.status).toBe(202)
      expect(submitted.headers["access-control-allow-origin"]).toBe(appOrigin)
      expect(submitted.headers["access-control-expose-headers"]).toContain("x-correlation-id")
      // a same-origin page (the daemon's own) may change state; a foreign page's GET gets no CORS header
      const sameOrigin = yield* rawRequest(`${orchestratord}/v2/tasks`, {
        method: "POST",
        headers: { host, origin: `http://${host}`, "content-type": "application/json; charset=utf-8" },
        body: JSON.stringify({ model_ref: "mock-model", prompt: "hi", max_tokens: 1 })
      })
      expect(sameOrigin.status).toBe(202)
      const foreignRead = yield* rawRequest(`${orchestratord}/v2/pools`, {
        method: "GET",
        headers: { host, origin: evilOrigin }
      })
      assert(foreignRead.headers["access-control-allow-origin"] === undefined)
    }))
})
