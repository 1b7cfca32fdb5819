import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect } from "@effect/vitest"
import { Processes } from "@llama-orch/daemon-kit"
import { Effect, Schema } from "effect"
import { createParser } from "eventsource-parser"
import { MockEngine } from "../src/index.js"

/** What a test needs to spawn engines. */
export const TestLayer = NodeContext.layer

/** An HTTP failure seen by the test client. */
export class HttpFailure extends Schema.TaggedError<HttpFailure>()("HttpFailure", { message: Schema.String }) {}

const parseBody = (text: string): unknown => JSON.parse(text)

/** Decodes a JSON object from text. */
export const decodeObject = Schema.decodeUnknownSync(
  Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
)

/** Decodes a response body with a schema (throws a readable error when the shape is wrong). */
export const decodeAs = <A, I>(schema: Schema.Schema<A, I>) => (body: unknown): A =>
  Schema.decodeUnknownSync(schema)(body)

const request = (url: string, init?: RequestInit) =>
  Effect.tryPromise({
    try: (signal) => fetch(url, { ...init, signal }),
    catch: (error) => new HttpFailure({ message: String(error) })
  })

/** GET, returning status and parsed JSON. */
export const getJson = (url: string) =>
  Effect.flatMap(request(url), (res) =>
    Effect.tryPromise({
      try: async () => ({ status: res.status, body: parseBody(await res.text()) }),
      catch: (error) => new HttpFailure({ message: String(error) })
    }))

/** GET, returning the body text. */
export const getText = (url: string) =>
  Effect.flatMap(
    request(url),
    (res) => Effect.tryPromise({ try: () => res.text(), catch: (error) => new HttpFailure({ message: String(error) }) })
  )

/** POST a JSON body (or raw text), returning status and parsed JSON. */
export const postJson = (url: string, body: unknown) =>
  Effect.flatMap(
    request(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body)
    }),
    (res) =>
      Effect.tryPromise({
        try: async () => ({ status: res.status, body: parseBody(await res.text()) }),
        catch: (error) => new HttpFailure({ message: String(error) })
      })
  )

/** The outcome of reading an SSE response: the `data` payloads, and whether the stream broke. */
export interface SseResult {
  readonly status: number
  readonly contentType: string | null
  readonly data: ReadonlyArray<string>
  readonly broken: boolean
}

/**
 * POST a JSON body and read the SSE response to its end, until the connection drops, or until
 * `maxEvents` events arrived or `signal` aborts (then the client disconnects).
 */
export const postSse = (
  url: string,
  body: unknown,
  options: {
    readonly onData?: (data: string) => void
    readonly maxEvents?: number
    readonly signal?: AbortSignal
  } = {}
) =>
  Effect.promise(async (): Promise<SseResult> => {
    const controller = new AbortController()
    options.signal?.addEventListener("abort", () => controller.abort())
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: controller.signal
    }).catch(() => undefined)
    // Aborted (or cut) before the response headers arrived.
    if (res === undefined) return { status: 0, contentType: null, data: [], broken: true }
    const data: Array<string> = []
    const parser = createParser({
      onEvent: (event) => {
        // One chunk can hold several events (a loaded machine batches writes): stop at the limit.
        if (options.maxEvents !== undefined && data.length >= options.maxEvents) return
        data.push(event.data)
        options.onData?.(event.data)
        if (options.maxEvents !== undefined && data.length >= options.maxEvents) controller.abort()
      }
    })
    let broken = false
    try {
      const decoder = new TextDecoder()
      if (res.body !== null) {
        for await (const chunk of res.body) parser.feed(decoder.decode(chunk, { stream: true }))
      }
    } catch {
      broken = true
    }
    return { status: res.status, contentType: res.headers.get("content-type"), data, broken }
  })

/** Parses JSON `data` payloads (skipping `[DONE]`). */
export const payloads = (result: SseResult): ReadonlyArray<{ readonly [key: string]: unknown }> =>
  result.data.filter((d) => d !== "[DONE]").map((d) => decodeObject(d))

/** Reads one metric from `/metrics`. */
export const metric = (url: string, name: string) =>
  Effect.map(getText(`${url}/metrics`), (text) => {
    const line = text.split("\n").find((l) => l.startsWith(`${name} `))
    return line === undefined ? Number.NaN : Number(line.slice(name.length + 1))
  })

/** Polls `/metrics` until `name` equals `expected` (generously: the machine is shared). */
export const untilMetric = (url: string, name: string, expected: number) =>
  Processes.waitFor(
    Effect.filterOrFail(
      metric(url, name),
      (value) => value === expected,
      () => new HttpFailure({ message: `${name} is not ${expected}` })
    ),
    { interval: "50 millis", timeout: "30 seconds" }
  )

/** Whether a process with this pid exists. */
export const isAlive = Processes.isAlive

/** Waits (generously: the machine is shared) until none of the pids is alive, then asserts it. */
export const assertGone = (pids: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    yield* Effect.ignore(Processes.awaitGone(pids, { timeout: "10 seconds" }))
    expect(pids.filter(isAlive)).toEqual([])
  })

/** Runs `body` with a started engine in its own scope, then asserts the engine process is gone. */
export const withEngine = <A, E, R>(
  options: MockEngine.MockEngineOptions,
  body: (engine: MockEngine.RunningMockEngine) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const pids: Array<number> = []
    const result = yield* Effect.scoped(
      Effect.flatMap(MockEngine.start(options), (engine) => {
        pids.push(engine.pid)
        return body(engine)
      })
    )
    yield* assertGone(pids)
    return result
  })
