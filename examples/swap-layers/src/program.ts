/** A program written against the `PoolManager` tag only: it cannot tell which layer it runs on. */
import { PoolId, PoolManager, PoolSpec } from "@llama-orch/pool-core"
import { Effect, Schema } from "effect"

/** Starts a pool, takes a slot, and reports what a router would need; removes the pool afterwards. */
export const servePool = (id: string) =>
  Effect.gen(function*() {
    const pools = yield* PoolManager
    const poolId = Schema.decodeSync(PoolId)(id)
    yield* pools.register(Schema.decodeUnknownSync(PoolSpec)({ id, engine: "mock", model: "tiny", slots: 2 }))
    const handoff = yield* pools.preload(poolId)
    // while the lease's scope is open the slot is ours (over RPC it is freed shortly after the scope closes)
    const [lease, status] = yield* Effect.scoped(Effect.zip(pools.lease(poolId), pools.status(poolId)))
    yield* pools.remove(poolId)
    return {
      url: handoff.url,
      leasedModel: lease.model,
      slotsFreeWhileLeased: status.slotsFree,
      slotsTotal: status.slotsTotal
    }
  })
