/**
 * Property-based fuzz of `POST /rpc` against a real pool-managerd process: malformed NDJSON,
 * unknown tags, bad payloads, huge and deeply nested bodies, wrong content types, with and without
 * the token. Never a crash (the process stays up, /health answers), never a 5xx, and the daemon's
 * resident memory stays bounded.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck } from "effect"
import { alive, spawnWithToken } from "./helpers.js"
import { residentBytes } from "./streamBody.js"

const token = "pm-fuzz-token-93e0c2"
const MiB = 1024 * 1024

const tags = ["List", "Status", "Health", "Register", "Remove", "Preload", "Drain", "Reload"] as const

const deep = (depth: number) =>
  FastCheck.constantFrom("[", "{\"a\":").map((open) =>
    open === "[" ? "[".repeat(depth) + "]".repeat(depth) : open.repeat(depth) + "1" + "}".repeat(depth)
  )

const request = (tag: FastCheck.Arbitrary<string>, payload: FastCheck.Arbitrary<string>) =>
  FastCheck.tuple(FastCheck.string(), tag, payload).map(([id, t, p]) =>
    `{"_tag":"Request","id":${JSON.stringify(id)},"tag":${JSON.stringify(t)},"payload":${p},"headers":[]}\n`
  )

/** One line of NDJSON (or garbage). */
const line = FastCheck.oneof(
  FastCheck.string(),
  FastCheck.json().map((j) => j + "\n"),
  request(FastCheck.constantFrom(...tags), FastCheck.json()),
  request(FastCheck.string(), FastCheck.json()),
  request(FastCheck.constantFrom(...tags), deep(3000)),
  FastCheck.constantFrom(
    "{\"_tag\":\"Ack\"}\n",
    "{\"_tag\":\"Interrupt\",\"requestId\":\"1\"}\n",
    "{\"_tag\":\"Eof\"}\n"
  )
)

const body = FastCheck.oneof(
  { arbitrary: FastCheck.array(line, { minLength: 1, maxLength: 4 }).map((lines) => lines.join("")), weight: 8 },
  { arbitrary: FastCheck.constant("x".repeat(2 * MiB)), weight: 1 },
  {
    arbitrary: FastCheck.constant(`{"_tag":"Request","id":"1","tag":"List","payload":${"[".repeat(200_000)}`),
    weight: 1
  }
)

const sample = FastCheck.record({
  body,
  // most bodies go to the RPC decoder; the others are refused by the request guard before it
  contentType: FastCheck.oneof(
    { arbitrary: FastCheck.constant("application/ndjson"), weight: 4 },
    {
      arbitrary: FastCheck.constantFrom(
        "application/json",
        "text/plain",
        "application/msgpack",
        "multipart/form-data; boundary=x"
      ),
      weight: 1
    }
  ),
  authorized: FastCheck.boolean()
})

describe("POST /rpc fuzz against a real pool-managerd", () => {
  it.scopedLive("never crashes, never answers 5xx, memory stays bounded", () =>
    Effect.gen(function*() {
      const daemon = yield* spawnWithToken("pools: []\n", token)
      const before = yield* residentBytes(daemon.pid)
      const statuses = new Map<number, number>()
      yield* Effect.promise(() =>
        FastCheck.assert(
          FastCheck.asyncProperty(sample, async ({ authorized, body, contentType }) => {
            const response = await fetch(`${daemon.url}/rpc`, {
              method: "POST",
              headers: { "content-type": contentType, ...(authorized ? { authorization: `Bearer ${token}` } : {}) },
              body,
              signal: AbortSignal.timeout(10_000)
            })
            await response.arrayBuffer()
            statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
            // refused before the body is read: no token (401), or not the RPC's media type (415)
            if (!authorized) {
              return response.status === 401 || (response.status === 415 && contentType !== "application/ndjson")
            }
            return response.status < 500
          }),
          { numRuns: 200, seed: 7 }
        )
      )
      expect(alive(daemon.pid)).toBe(true)
      const health = yield* Effect.promise(() => fetch(`${daemon.url}/health`))
      expect(health.status).toBe(200)
      const after = yield* residentBytes(daemon.pid)
      console.log(`rpc fuzz statuses ${JSON.stringify([...statuses])}; VmRSS ${before} -> ${after} bytes`)
      expect(after - before).toBeLessThan(150 * MiB)
    }).pipe(Effect.provide(NodeContext.layer)), 60_000)
})
