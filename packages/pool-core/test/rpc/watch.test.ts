/**
 * `Watch` over WebSocket for a watcher that falls behind: the lease changes it has not read yet are
 * conflated (each pool's latest status stands for them), every other change still arrives.
 */
import { Socket } from "@effect/platform"
import { NodeSocket } from "@effect/platform-node"
import { RpcClient, RpcSerialization } from "@effect/rpc"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema } from "effect"
import { PoolAuth, PoolId, PoolRpcs, PoolSpec, Snapshot, StatusChanged } from "../../src/index.js"
import { rawClient, serveInMemory } from "./server.js"

const token = Redacted.make("watch-token-value")
const p1 = Schema.decodeSync(PoolId)("p1")
const specOf = (id: string) => Schema.decodeUnknownSync(PoolSpec)({ id, engine: "mock", model: "tiny", slots: 2 })

/** A raw `PoolRpcs` client over WebSocket (the transport with backpressure: a chunk waits for its ack). */
const webSocketClient = (baseUrl: string) =>
  Effect.flatMap(
    Layer.build(
      Layer.mergeAll(
        RpcClient.layerProtocolSocket({ retryTransientErrors: false }).pipe(
          Layer.provide([
            Socket.layerWebSocket(`${baseUrl.replace("http:", "ws:")}/rpc`).pipe(
              Layer.provide(NodeSocket.layerWebSocketConstructor)
            ),
            RpcSerialization.layerNdjson
          ])
        ),
        PoolAuth.layerClient(token)
      )
    ),
    (context) => RpcClient.make(PoolRpcs).pipe(Effect.provide(context))
  )

describe("Watch for a watcher that falls behind", () => {
  it.scopedLive("folds the lease changes it has not read into each pool's latest status", () =>
    Effect.gen(function*() {
      const url = yield* serveInMemory(token)
      const leaser = yield* rawClient(url, token)
      yield* leaser.Register(specOf("p1"))
      yield* leaser.Preload({ poolId: p1 })
      const watcher = yield* webSocketClient(url)
      // room for one frame: the watcher reads nothing until the leases are done, so the server's
      // next chunk waits for an acknowledgement while the changes pile up behind it
      const frames = yield* watcher.Watch({ keepaliveMs: 600_000 }, { asMailbox: true, streamBufferSize: 1 })
      expect(yield* frames.take).toBeInstanceOf(Snapshot)
      const { sessionId } = yield* leaser.LeaseSession({}, { asMailbox: true }).pipe(
        Effect.flatMap((session) => session.take),
        Effect.flatMap((first) => "sessionId" in first ? Effect.succeed(first) : Effect.dieMessage("no session"))
      )
      for (let i = 0; i < 20; i++) {
        yield* leaser.AcquireLease({ sessionId, key: `k${i}`, poolId: p1 })
        yield* leaser.ReleaseLease({ sessionId, key: `k${i}` })
      }
      // a change that is not a lease's marks the end: it must arrive, after every lease change
      yield* leaser.Register(specOf("marker"))
      const seen: Array<StatusChanged> = []
      while (!seen.some((e) => e.status.poolId === "marker")) {
        const frame = yield* frames.take
        if (frame instanceof StatusChanged) seen.push(frame)
      }
      const leaseChanges = seen.filter((e) => e.status.poolId === "p1")
      // 40 lease changes were made; the watcher reads the two sent before it fell behind (one in its
      // buffer, one waiting to be put there) and the latest
      expect(leaseChanges.length).toBeLessThanOrEqual(3)
      expect(leaseChanges.at(-1)).toMatchObject({ reason: "lease-released", status: { activeLeases: 0, slotsFree: 2 } })
      expect(seen.at(-1)).toMatchObject({ reason: "registered", status: { poolId: "marker" } })
    }))
})
