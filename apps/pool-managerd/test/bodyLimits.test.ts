import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { PoolId, PoolSpec } from "@llama-orch/pool-core"
import { Cause, Effect, Exit } from "effect"
import { alive, getText, rpcClient, spawnWithToken } from "./helpers.js"
import { residentBytes, streamBody } from "./streamBody.js"

const token = "pm-body-token-2b7d41"
const MiB = 1024 * 1024

describe("pool-managerd refuses oversized and unauthenticated bodies before reading them", () => {
  it.scopedLive(
    "401 before any read without the token, 413 over max_body_bytes with it; the daemon stays up and small",
    () =>
      Effect.gen(function*() {
        const daemon = yield* spawnWithToken("max_body_bytes: 65536\n", token)
        const rpc = `${daemon.url}/rpc`
        const before = yield* residentBytes(daemon.pid)

        // no token: refused from the headers; the body is never kept (at most 16 MiB of it is read
        // and thrown away so the client reads the 401), long before the 256 MiB are sent
        const anonymous = yield* streamBody({ url: rpc, bytes: 256 * MiB, declare: false })
        expect(anonymous.status).toBe(401)
        expect(JSON.parse(anonymous.body)).toEqual({ error: { code: "UNAUTHORIZED", message: "missing bearer token" } })
        expect(anonymous.written).toBeLessThan(64 * MiB)
        const wrong = yield* streamBody({
          url: rpc,
          bytes: 256 * MiB,
          declare: true,
          headers: { authorization: "Bearer not-the-token" }
        })
        expect(wrong.status).toBe(401)
        expect(wrong.written).toBeLessThan(64 * MiB)

        // with the token: a declared length over the cap is refused at once
        const auth = { authorization: `Bearer ${token}` }
        const declared = yield* streamBody({ url: rpc, bytes: 64 * MiB, declare: true, headers: auth })
        expect(declared.status).toBe(413)
        expect(JSON.parse(declared.body)).toEqual({
          error: { code: "PAYLOAD_TOO_LARGE", message: "request body exceeds 65536 bytes" }
        })
        expect(declared.written).toBeLessThan(64 * MiB)
        // a chunked body (no length) is cut at the cap while it streams, and still answered 413
        const chunked = yield* streamBody({ url: rpc, bytes: 64 * MiB, declare: false, headers: auth })
        expect(chunked.status).toBe(413)
        expect(chunked.written).toBeLessThan(64 * MiB)

        // still up, still serving, memory about where it was
        expect(alive(daemon.pid)).toBe(true)
        expect(yield* getText(`${daemon.url}/health`)).toContain("pools")
        const client = yield* rpcClient(daemon.url, token)
        expect(yield* client.List()).toEqual([])
        // an RPC client whose call is over the cap gets an answer (a defect naming the 413), not a
        // wait forever for NDJSON that never comes
        const huge = PoolSpec.make({
          id: PoolId.make("huge"),
          engine: "mock",
          model: "m",
          env: { BIG: "x".repeat(MiB) }
        })
        const refused = yield* client.Register(huge).pipe(Effect.exit, Effect.timeout("10 seconds"))
        expect(Exit.isFailure(refused) && Cause.pretty(refused.cause)).toContain("HTTP 413")
        const after = yield* residentBytes(daemon.pid)
        expect(after - before).toBeLessThan(64 * MiB)
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )
})
