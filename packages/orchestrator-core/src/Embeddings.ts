/**
 * Embeddings: an OpenAI `/v1/embeddings` request sent to an engine serving the model, on a leased
 * slot (released when the answer is in), so embeddings and generations share the pools' slots.
 *
 * An embedding request is short and answered whole, so it does not wait in the model's task queue:
 * it takes a slot of the Ready pool with the most free slots, and while every slot is busy it tries
 * again (25 ms, doubling to 400 ms) for up to 30 seconds before it is refused as
 * `AdmissionRejected` with policy `no-free-slot`. A model the pool manager loads on demand is
 * loaded first (the orchestrator does so), and a load that fails ends it as `ModelLoadFailed`.
 *
 * @since 0.1.0
 */
import type { PoolManagerService, PoolStatus } from "@llama-orch/pool-core"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { EngineFailure, type EngineTransportService } from "./EngineTransport.js"
import { servedModel } from "./PlacementPolicy.js"
import { AdmissionRejected, type ModelLoadFailed, ModelNotFound, NoReadyPool, PoolsUnavailable } from "./TaskErrors.js"

/**
 * The errors of `forward`: no pool serves the model, none is Ready, the pool manager is down, every
 * slot stayed busy, or the engine failed (its status, e.g. 501 from a llama-server started without
 * `--embeddings`, is kept).
 *
 * @category models
 * @since 0.1.0
 */
export type EmbeddingsError =
  | ModelNotFound
  | NoReadyPool
  | PoolsUnavailable
  | AdmissionRejected
  | EngineFailure
  | ModelLoadFailed

/** Every slot was taken: try again. */
class Busy {
  readonly _tag = "Busy"
}

const trimSlash = (url: string): string => url.endsWith("/") ? url.slice(0, -1) : url

/**
 * Sends `body` (an OpenAI embeddings request; its `model` is replaced by the engine's) to an engine
 * serving `model`, and answers the engine's JSON answer as it is.
 *
 * @category utils
 * @since 0.1.0
 */
export const forward = (
  pools: PoolManagerService,
  transport: EngineTransportService,
  model: string,
  body: Readonly<Record<string, unknown>>
): Effect.Effect<unknown, EmbeddingsError> =>
  Effect.gen(function*() {
    const statuses = yield* pools.list.pipe(
      Effect.mapError((e) => new PoolsUnavailable({ reason: e.message, retryAfterMs: 1_000 }))
    )
    const serving = statuses.filter((s) => servedModel(s) === model)
    if (serving.length === 0) return yield* new ModelNotFound({ model })
    const ready = serving.filter((s) => s.state === "Ready" && !s.draining)
    if (ready.length === 0) {
      return yield* new NoReadyPool({
        model,
        retryAfterMs: 1_000,
        ...(serving.every((s) => s.state === "Failed") ? { failed: true } : {})
      })
    }
    const ordered = [...ready].sort((a, b) => b.slotsFree - a.slotsFree)
    return yield* firstFree(pools, transport, ordered, body).pipe(
      Effect.retry({
        while: (e) => e instanceof Busy,
        schedule: Schedule.exponential("25 millis").pipe(
          Schedule.union(Schedule.spaced("400 millis")),
          Schedule.upTo("30 seconds")
        )
      }),
      Effect.catchIf(
        (e): e is Busy => e instanceof Busy,
        () => new AdmissionRejected({ model, policy: "no-free-slot", queueDepth: 0, retryAfterMs: 1_000 })
      )
    )
  })

/** Tries each pool in turn; fails with `Busy` when none had a free slot. */
const firstFree = (
  pools: PoolManagerService,
  transport: EngineTransportService,
  ordered: ReadonlyArray<PoolStatus>,
  body: Readonly<Record<string, unknown>>
): Effect.Effect<unknown, EngineFailure | Busy> =>
  Effect.gen(function*() {
    for (const pool of ordered) {
      const answer = yield* Effect.scoped(Effect.gen(function*() {
        const lease = yield* pools.lease(pool.poolId).pipe(Effect.option)
        if (lease._tag === "None") return undefined
        const target = lease.value
        const url = `${trimSlash(target.url)}/v1/embeddings`
        const chunks: Array<Uint8Array> = []
        yield* transport.post(
          url,
          JSON.stringify({ ...body, model: target.model }),
          (bytes) => {
            chunks.push(bytes)
            return "more"
          },
          undefined,
          target.apiKey === undefined ? undefined : `Bearer ${Redacted.value(target.apiKey)}`
        )
        const text = Buffer.concat(chunks).toString("utf8")
        return yield* Effect.try({
          try: (): { readonly json: unknown } => ({ json: JSON.parse(text) }),
          catch: () => new EngineFailure({ url, reason: "engine answered embeddings that are not JSON" })
        })
      }))
      if (answer !== undefined) return answer.json
    }
    return yield* Effect.fail(new Busy())
  })
