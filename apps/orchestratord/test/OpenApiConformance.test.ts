/**
 * The OpenAPI document is true to the server: it is valid OpenAPI (swagger-parser), every answer
 * of every route, driven into each error it can produce, has a declared status and a body that
 * validates against the declared schema (ajv), with the declared headers; every event of every
 * event stream validates against the schema `x-sse-events` names for it; and conversely every
 * declared status and event is reached, but for the exceptions listed below.
 */
import SwaggerParser from "@apidevtools/swagger-parser"
import type * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Layer, Logger, LogLevel, Redacted, Schema, Scope } from "effect"
import { doneText, TaskTokenEvent } from "../src/EventSchemas.js"
import { ChatCompletionChunk, CompletionChunk } from "../src/OpenAiSchemas.js"
import { type Answer, checker, declared, eventsOf } from "./fixtures/openApiCheck.js"
import { rawRequest } from "./fixtures/rawHttp.js"
import * as Scripted from "./fixtures/ScriptedServices.js"
import { baseUrl, reloaderOf, sameFileReloader, serve } from "./fixtures/server.js"

const token = "s3cret"

/** Declared, but no request can reach them; each says why. */
const unreachable: ReadonlyMap<string, string> = new Map([
  [
    "GET /health 500",
    "the liveness answer calls nothing that can fail: only a defect of the middleware could be a 500"
  ],
  ["GET /v2/pools/events 500", "the stream answers 200 before it reads the pool manager: a defect ends the stream"]
])

interface Request {
  readonly path?: string
  readonly body?: unknown
  readonly headers?: Record<string, string>
  readonly auth?: boolean
  /** For streams that do not end: read until this holds for the events so far. */
  readonly until?: (count: number) => boolean
}

const readBody = async (response: Response, until: Request["until"]): Promise<string> => {
  if (until === undefined || response.body === null) return response.text()
  const reader = response.body.getReader()
  const decoder = new TextDecoder()
  let text = ""
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return text
    text += decoder.decode(value, { stream: true })
    if (until(eventsOf(text).length)) {
      await reader.cancel()
      return text
    }
  }
}

const send = (base: string, op: string, request: Request = {}): Effect.Effect<Answer> =>
  Effect.promise(async () => {
    const [method = "GET", template = "/"] = op.split(" ")
    const body = request.body === undefined || typeof request.body === "string"
      ? request.body
      : JSON.stringify(request.body)
    const response = await fetch(`${base}${request.path ?? template.replace("{id}", "x")}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(request.auth === false ? {} : { authorization: `Bearer ${token}` }),
        ...request.headers
      },
      ...(body === undefined ? {} : { body })
    })
    const text = await readBody(response, request.until)
    return { op, status: response.status, headers: Object.fromEntries(response.headers), body: text }
  })

/** A request with a `Host` that is not the daemon's (fetch cannot send one). */
const foreignHost = (base: string, op: string): Effect.Effect<Answer> => {
  const [method = "GET", template = "/"] = op.split(" ")
  return Effect.map(
    rawRequest(`${base}${template.replace("{id}", "x")}`, {
      method,
      headers: { host: "rebound.example", authorization: `Bearer ${token}` }
    }),
    (raw) => ({
      op,
      status: raw.status,
      body: raw.body,
      headers: Object.fromEntries(
        Object.entries(raw.headers).flatMap(([k, v]) => (typeof v === "string" ? [[k, v]] : []))
      )
    })
  )
}

/** An answer with the status the probe expects (a mismatch is reported with the rest). */
interface Probe {
  readonly expected: number
  readonly answer: Effect.Effect<Answer>
}

const probe = (expected: number, answer: Effect.Effect<Answer>): Probe => ({ expected, answer })

const chat = (text: string, extra: Record<string, unknown> = {}) => ({
  model: "mock-model",
  messages: [{ role: "user", content: text }],
  max_tokens: 2,
  ...extra
})
const completion = (text: string, extra: Record<string, unknown> = {}) => ({
  model: "mock-model",
  prompt: text,
  max_tokens: 2,
  ...extra
})
const task = (extra: Record<string, unknown> = {}) => ({
  model_ref: "mock-model",
  prompt: "hi",
  max_tokens: 2,
  ...extra
})
const big = { model_ref: "mock-model", prompt: "x".repeat(8 * 1024), model: "mock-model", deadline_ms: 1 }

/** A request each route answers with success, on a server whose services work. */
const valid: Readonly<Record<string, Request>> = {
  "POST /v2/tasks": { body: task() },
  "GET /v2/pools/{id}/health": { path: "/v2/pools/mock-0/health" },
  "POST /v2/pools/{id}/preload": { path: "/v2/pools/mock-0/preload" },
  "POST /v2/pools/{id}/drain": { path: "/v2/pools/mock-0/drain", body: { deadline_ms: 10 } },
  "POST /v2/pools/{id}/reload": { path: "/v2/pools/mock-0/reload", body: { model_ref: "other-model" } },
  "POST /v2/models/{id}/load": { path: "/v2/models/mock-model/load" },
  "POST /v2/models/{id}/unload": { path: "/v2/models/mock-model/unload" },
  "GET /v1/models/{id}": { path: "/v1/models/mock-model" },
  "POST /v1/chat/completions": { body: chat("hi") },
  "POST /v1/completions": { body: completion("hi") },
  "POST /v1/embeddings": { body: { model: "mock-model", input: "hi" } }
}

/** The task id of a 202 answer. */
const taskIdOf = (answer: Answer): string => {
  const accepted: unknown = JSON.parse(answer.body)
  return typeof accepted === "object" && accepted !== null && "task_id" in accepted ? String(accepted.task_id) : ""
}

/** The probes of the task routes: submit, then stream, cancel and inspect what was submitted. */
const taskProbes = (m: string): ReadonlyArray<Probe> => {
  const events = "GET /v2/tasks/{id}/events"
  const stream = (prompt: string, query = "", maxTokens = 2) =>
    Effect.gen(function*() {
      const accepted = yield* send(m, "POST /v2/tasks", { body: task({ prompt, max_tokens: maxTokens }) })
      const id = taskIdOf(accepted)
      if (maxTokens > 100) yield* send(m, "POST /v2/tasks/{id}/cancel", { path: `/v2/tasks/${id}/cancel` })
      return yield* send(m, events, { path: `/v2/tasks/${id}/events${query}` })
    })
  const ended = Effect.gen(function*() {
    const id = taskIdOf(yield* send(m, "POST /v2/tasks", { body: task() }))
    yield* send(m, events, { path: `/v2/tasks/${id}/events` })
    return yield* send(m, events, { path: `/v2/tasks/${id}/events`, headers: { "last-event-id": "999" } })
  })
  const withTask = (op: string, suffix: string) =>
    Effect.flatMap(
      send(m, "POST /v2/tasks", { body: task() }),
      (accepted) => send(m, op, { path: `/v2/tasks/${taskIdOf(accepted)}${suffix}` })
    )
  return [
    probe(202, send(m, "POST /v2/tasks", { body: task() })),
    probe(400, send(m, "POST /v2/tasks", { body: "{not json" })),
    probe(400, send(m, "POST /v2/tasks", { body: task({ model_ref: "invalid" }) })),
    probe(404, send(m, "POST /v2/tasks", { body: task({ model_ref: "nope" }) })),
    probe(413, send(m, "POST /v2/tasks", { body: big })),
    probe(429, send(m, "POST /v2/tasks", { body: task({ model_ref: "reject" }) })),
    probe(429, send(m, "POST /v2/tasks", { body: task({ model_ref: "budget" }) })),
    probe(503, send(m, "POST /v2/tasks", { body: task({ model_ref: "unready" }) })),
    probe(503, send(m, "POST /v2/tasks", { body: task({ model_ref: "circuit-open" }) })),
    probe(503, send(m, "POST /v2/tasks", { body: task({ model_ref: "unreachable" }) })),
    probe(200, stream("hi")),
    probe(200, stream("loading")),
    probe(200, stream("rich")),
    probe(200, stream("fail:WORKER_RESET")),
    probe(200, stream("hi", "", 10_000)),
    probe(200, stream("hi", "?legacy_error_event=1", 10_000)),
    probe(204, ended),
    probe(400, send(m, events, { path: "/v2/tasks/x/events?legacy_error_event=yes" })),
    probe(404, send(m, events)),
    probe(204, withTask("POST /v2/tasks/{id}/cancel", "/cancel")),
    probe(404, send(m, "POST /v2/tasks/{id}/cancel")),
    probe(200, withTask("GET /v2/tasks/{id}", "")),
    probe(404, send(m, "GET /v2/tasks/{id}"))
  ]
}

/** The probes of the model control plane: load and unload by model id. */
const modelProbes = (m: string, d: string): ReadonlyArray<Probe> => {
  const at = (server: string, op: string, model: string) =>
    send(server, op, { path: `/v2/models/${model}${op.split("{id}")[1] ?? ""}` })
  const [load, unload] = ["POST /v2/models/{id}/load", "POST /v2/models/{id}/unload"] as const
  return [
    probe(200, at(m, load, "mock-model")),
    probe(404, at(m, load, "nope")),
    probe(502, at(m, load, "broken-model")),
    probe(503, at(d, load, "mock-model")),
    probe(200, at(m, unload, "mock-model")),
    probe(404, at(m, unload, "nope")),
    probe(503, at(d, unload, "mock-model"))
  ]
}

/** The probes of the control plane and the meta routes. */
const poolProbes = (m: string, d: string): ReadonlyArray<Probe> => {
  const at = (op: string, pool: string, body?: unknown) => {
    const suffix = op.split("{id}")[1] ?? ""
    return send(m, op, { path: `/v2/pools/${pool}${suffix}`, ...(body === undefined ? {} : { body }) })
  }
  const [health, preload, drain, reload] = [
    "GET /v2/pools/{id}/health",
    "POST /v2/pools/{id}/preload",
    "POST /v2/pools/{id}/drain",
    "POST /v2/pools/{id}/reload"
  ] as const
  return [
    probe(200, send(m, "GET /v2/pools")),
    probe(503, send(d, "GET /v2/pools")),
    probe(200, send(m, "GET /v2/pools/events", { until: (n) => n >= 2 })),
    probe(200, send(d, "GET /v2/pools/events")),
    probe(200, send(d, "GET /v2/pools/events", { path: "/v2/pools/events?legacy_error_event=1" })),
    probe(400, send(m, "GET /v2/pools/events", { path: "/v2/pools/events?legacy_error_event=2" })),
    probe(200, activityAcrossShutdown("")),
    probe(200, activityAcrossShutdown("?legacy_error_event=1")),
    probe(400, send(m, "GET /v2/activity/events", { path: "/v2/activity/events?legacy_error_event=2" })),
    probe(200, at(health, "mock-0")),
    probe(404, at(health, "nope")),
    probe(404, at(health, "NOT..VALID")),
    probe(503, at(health, "unreachable-0")),
    probe(200, at(preload, "mock-0")),
    probe(404, at(preload, "nope")),
    probe(502, at(preload, "broken-0")),
    probe(503, at(preload, "unreachable-0")),
    probe(202, at(drain, "mock-0", { deadline_ms: 10 })),
    probe(400, at(drain, "mock-0", { deadline_ms: -1 })),
    probe(404, at(drain, "nope", { deadline_ms: 10 })),
    probe(413, at(drain, "mock-0", big)),
    probe(503, at(drain, "unreachable-0", { deadline_ms: 10 })),
    probe(200, at(reload, "mock-0", { model_ref: "other-model" })),
    probe(400, at(reload, "mock-0", { model_ref: "../etc" })),
    probe(404, at(reload, "nope", { model_ref: "other-model" })),
    probe(413, at(reload, "mock-0", big)),
    probe(502, at(reload, "mock-0", { model_ref: "broken-model" })),
    probe(503, at(reload, "unreachable-0", { model_ref: "other-model" })),
    ...modelProbes(m, d),
    probe(200, send(m, "GET /v2/meta/capabilities")),
    probe(503, send(d, "GET /v2/meta/capabilities")),
    probe(200, send(m, "GET /health")),
    probe(200, send(m, "GET /ready")),
    probe(503, send(d, "GET /ready")),
    probe(200, send(m, "POST /v2/admin/reload-config")),
    probe(422, send(d, "POST /v2/admin/reload-config"))
  ]
}

/**
 * The activity stream of a server of its own that shuts down once the stream has its snapshot and a
 * change: the stream ends with the retriable failure (`error` with `?legacy_error_event=1`).
 */
const activityAcrossShutdown = (query: string): Effect.Effect<Answer> =>
  Effect.gen(function*() {
    const op = "GET /v2/activity/events"
    const scope = yield* Scope.make()
    const base = yield* start(
      serve(Layer.merge(Scripted.orchestrator, Scripted.poolManager)).pipe(
        Layer.provide(quiet)
      )
    ).pipe(Scope.extend(scope), Effect.orDie)
    const response = yield* Effect.promise(() => fetch(`${base}/v2/activity/events${query}`))
    const reader = response.body?.getReader()
    const decoder = new TextDecoder()
    let text = ""
    let closed = false
    for (;;) {
      const chunk = yield* Effect.promise(() => reader?.read() ?? Promise.resolve({ done: true, value: undefined }))
      if (chunk.done) break
      text += decoder.decode(chunk.value, { stream: true })
      if (!closed && eventsOf(text).length >= 2) {
        closed = true
        yield* Effect.forkDaemon(Scope.close(scope, Exit.void))
      }
    }
    return { op, status: response.status, headers: Object.fromEntries(response.headers), body: text }
  })

/** The probes of the OpenAI-compatible routes. */
const openAiProbes = (m: string, d: string): ReadonlyArray<Probe> => {
  const generation = (op: string, body: (text: string, extra?: Record<string, unknown>) => object) => {
    const post = (b: unknown) => send(m, op, { body: b })
    const streamed = { stream: true, stream_options: { include_usage: true } }
    return [
      probe(200, post(body("hi"))),
      probe(200, post(body("rich"))),
      probe(200, post(body("hi", streamed))),
      probe(200, post(body("rich", streamed))),
      probe(200, post(body("fail:WORKER_RESET", { stream: true }))),
      probe(400, post({ model: "mock-model" })),
      probe(404, post({ ...body("hi"), model: "nope" })),
      probe(409, post(body("fail:CANCELLED"))),
      probe(413, post(body("x".repeat(8 * 1024)))),
      probe(429, post({ ...body("hi"), model: "reject" })),
      probe(500, post(body("fail:INTERNAL"))),
      probe(502, post(body("fail:WORKER_RESET"))),
      probe(503, post({ ...body("hi"), model: "unready" })),
      probe(503, send(d, op, { body: body("hi", { n: 2 }) })),
      probe(504, post(body("fail:DECODE_TIMEOUT")))
    ]
  }
  const embeddings = (model: string, input: unknown = "hi") =>
    send(m, "POST /v1/embeddings", { body: { model, input } })
  return [
    probe(200, send(m, "GET /v1/models")),
    probe(503, send(d, "GET /v1/models")),
    probe(200, send(m, "GET /v1/models/{id}", { path: "/v1/models/mock-model" })),
    probe(404, send(m, "GET /v1/models/{id}", { path: "/v1/models/nope" })),
    probe(503, send(d, "GET /v1/models/{id}", { path: "/v1/models/mock-model" })),
    ...generation("POST /v1/chat/completions", chat),
    ...generation("POST /v1/completions", completion),
    probe(200, embeddings("mock-model")),
    probe(400, embeddings("mock-model", 5)),
    probe(400, embeddings("engine-refuses")),
    probe(404, embeddings("nope")),
    probe(413, embeddings("mock-model", "x".repeat(8 * 1024))),
    probe(429, embeddings("reject")),
    probe(502, embeddings("engine-down")),
    probe(502, embeddings("not-embeddings")),
    probe(503, embeddings("unready"))
  ]
}

/** The probes every route gets: the request guard, the token, defects. */
const everyRouteProbes = (spec: unknown, m: string, x: string): ReadonlyArray<Probe> => {
  const { statuses } = declared(spec)
  const ops = [...new Set([...statuses].map((s) => s.split(" ").slice(0, 2).join(" ")))]
  const declares = (op: string, status: number) => statuses.has(`${op} ${status}`)
  return ops.flatMap((op) => [
    probe(403, foreignHost(m, op)),
    // the routes that declare 401 ask for the token; the others (/health, /ready) answer without it
    probe(declares(op, 401) ? 401 : 200, send(m, op, { ...valid[op], auth: false })),
    ...(op.startsWith("POST ")
      ? [probe(415, send(m, op, { body: "x", headers: { "content-type": "text/plain" } }))]
      : []),
    ...(unreachable.has(`${op} 500`) ? [] : [probe(500, send(x, op, valid[op]))])
  ])
}

// the pool manager that cannot be reached, the defects and the control plane log: not here
const quiet = Logger.minimumLogLevel(LogLevel.None)

const main = serve(Layer.merge(Scripted.orchestrator, Scripted.poolManager), {
  token: Redacted.make(token),
  maxBodyBytes: 4096
}, sameFileReloader).pipe(Layer.provide(quiet))

const start = <ROut, E>(server: Layer.Layer<ROut | HttpServer.HttpServer, E>) =>
  Effect.flatMap(Layer.build(server), (context) => Effect.provide(baseUrl, context))

describe("the OpenAPI document", () => {
  it.scopedLive("is valid OpenAPI, and true to every answer of every route", () =>
    Effect.gen(function*() {
      const m = yield* start(main)
      const d = yield* start(
        serve(Layer.merge(Scripted.orchestrator, Scripted.unreachablePoolManager)).pipe(Layer.provide(quiet))
      )
      const x = yield* start(
        serve(Scripted.dying, {}, reloaderOf(Effect.die("the file cannot be read"))).pipe(
          Layer.provide(quiet)
        )
      )
      const spec: unknown = yield* Effect.promise(() => fetch(`${m}/openapi.json`).then((r) => r.json()))
      // the served document, fetched and checked by swagger-parser itself
      yield* Effect.promise(() =>
        SwaggerParser.validate(`${m}/openapi.json`, { resolve: { http: { safeUrlResolver: false } } })
      )

      const { check, seen } = checker(spec)
      const probes = [...taskProbes(m), ...poolProbes(m, d), ...openAiProbes(m, d), ...everyRouteProbes(spec, m, x)]
      const problems = (yield* Effect.forEach(probes, ({ answer, expected }) =>
        Effect.map(answer, (a) => [
          ...(a.status === expected ? [] : [`${a.op}: expected ${expected}, got ${a.status} ${a.body.slice(0, 200)}`]),
          ...check(a)
        ]), { concurrency: 4 })).flat()
      const all = declared(spec)
      expect({
        problems,
        unreached: [...all.statuses].filter((s) => !seen.statuses.has(s) && !unreachable.has(s)),
        unreachedEvents: [...all.events].filter((e) => !seen.events.has(e)),
        // the exceptions are declared, and still out of reach
        staleExceptions: [...unreachable.keys()].filter((s) => !all.statuses.has(s) || seen.statuses.has(s))
      }).toEqual({ problems: [], unreached: [], unreachedEvents: [], staleExceptions: [] })
      expect(seen.statuses.size).toBe(all.statuses.size - unreachable.size)
    }), 120_000)
})

describe("the hand-built stream frames (the per-token fast paths)", () => {
  const decodes = <A, I>(schema: Schema.Schema<A, I>, data: string) =>
    Either.isRight(Schema.decodeUnknownEither(schema, { onExcessProperty: "error" })(JSON.parse(data)))

  it.scopedLive("decode with the declared chunk and event schemas, and nothing beyond them", () =>
    Effect.gen(function*() {
      const m = yield* start(main)
      const streamed = { stream: true, stream_options: { include_usage: true } }
      const dataOf = (answer: Answer) => eventsOf(answer.body).map((e) => e.data).filter((d) => d !== doneText)
      for (const text of ["hi", "rich"]) {
        const chats = dataOf(yield* send(m, "POST /v1/chat/completions", { body: chat(text, streamed) }))
        const texts = dataOf(yield* send(m, "POST /v1/completions", { body: completion(text, streamed) }))
        // tokens, the chunk that ends each choice, the usage chunk
        expect(chats.length).toBeGreaterThanOrEqual(4)
        expect(chats.filter((d) => !decodes(ChatCompletionChunk, d))).toEqual([])
        expect(texts.length).toBeGreaterThanOrEqual(4)
        expect(texts.filter((d) => !decodes(CompletionChunk, d))).toEqual([])
      }
      const accepted = yield* send(m, "POST /v2/tasks", { body: task({ max_tokens: 3 }) })
      const events = eventsOf(
        (yield* send(m, "GET /v2/tasks/{id}/events", {
          path: `/v2/tasks/${taskIdOf(accepted)}/events`
        })).body
      )
      const tokens = events.filter((e) => e.event === "token").map((e) => e.data)
      expect(tokens).toHaveLength(3)
      expect(tokens.filter((d) => !decodes(TaskTokenEvent, d))).toEqual([])
    }))
})
