/**
 * A pool whose restart circuit is open (state `Failed`) stays down until an operator acts, so the
 * API must not tell clients to retry: 503 `POOL_UNREADY` with `retriable: false`, no
 * `Retry-After`, and a message that says why. A pool that is merely starting still says "retry".
 */
import { describe, expect, it } from "@effect/vitest"
import { AdmissionCheck, TaskRequest } from "@llama-orch/orchestrator-core"
import { PoolId, PoolStatus, PoolUnready } from "@llama-orch/pool-core"
import { Either, Schema } from "effect"
import { fromPoolError, fromSubmitError } from "../src/ApiFailure.js"
import { toResponse } from "../src/ErrorResponses.js"

const pool = (poolId: string, state: PoolStatus["state"]) =>
  PoolStatus.make({
    poolId: PoolId.make(poolId),
    state,
    live: state === "Ready",
    ready: state === "Ready",
    draining: false,
    engine: "mock",
    protocol: "llamacpp",
    model: "m",
    ctxMax: 4096,
    slotsTotal: 4,
    slotsFree: 4,
    activeLeases: 0,
    generation: 1,
    restarts: 0
  })

const request = (pin?: string) =>
  Schema.decodeUnknownSync(TaskRequest)({
    model_ref: "m",
    prompt: "hi",
    max_tokens: 4,
    ...(pin === undefined ? {} : { placement: { pin_pool_id: pin } })
  })

const settings = { allowPinning: true, retryAfterMs: 1_000 }

const refusal = (pools: ReadonlyArray<PoolStatus>, pin?: string) => {
  const result = AdmissionCheck.check(request(pin), pools, settings)
  if (Either.isRight(result)) return expect.fail("admitted")
  return fromSubmitError(result.left)
}

describe("a Failed pool (circuit open)", () => {
  it("every pool of the model Failed: not retriable, no Retry-After, says why", () => {
    const failure = refusal([pool("p1", "Failed"), pool("p2", "Failed")])
    expect(failure.status).toBe(503)
    expect(failure.envelope.code).toBe("POOL_UNREADY")
    expect(failure.envelope.retriable).toBe(false)
    expect(failure.envelope.retryAfterMs).toBeUndefined()
    expect(failure.envelope.message).toContain("restart circuit is open")
    expect(toResponse(failure).headers["retry-after"]).toBeUndefined()
  })

  it("a pinned Failed pool: the same", () => {
    const failure = refusal([pool("p1", "Failed"), pool("p2", "Ready")], "p1")
    expect(failure.envelope.retriable).toBe(false)
    expect(failure.envelope.poolId).toBe("p1")
    expect(toResponse(failure).headers["retry-after"]).toBeUndefined()
  })

  it("a lease refused because the pool is Failed: the same", () => {
    const failure = fromPoolError(new PoolUnready({ poolId: "p1", state: "Failed" }))
    expect(failure.envelope.retriable).toBe(false)
    expect(failure.envelope.message).toContain("restart circuit is open")
    expect(toResponse(failure).headers["retry-after"]).toBeUndefined()
  })

  it("a pool that is only not Ready yet is still retriable with Retry-After", () => {
    const failure = refusal([pool("p1", "Starting"), pool("p2", "Failed")], "p1")
    expect(failure.envelope.retriable).toBe(true)
    expect(toResponse(failure).headers["retry-after"]).toBe("1")
    const unready = fromPoolError(new PoolUnready({ poolId: "p1", state: "Starting" }))
    expect(unready.envelope.retriable).toBe(true)
  })
})
