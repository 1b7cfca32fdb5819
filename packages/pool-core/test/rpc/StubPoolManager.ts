/**
 * An in-memory `PoolManager` for the RPC transport tests: pools become Ready on register, leases
 * count slots, and every change is published as an event. No engine is spawned; the engine
 * lifecycle is tested against the embedded layer.
 */
import { Effect, Layer, PubSub, Ref, Stream } from "effect"
import {
  PoolAlreadyExists,
  PoolManager,
  PoolNotFound,
  PoolStatus,
  SlotsExhausted,
  Snapshot,
  StatusChanged,
  watchEvents
} from "../../src/index.js"
import { DrainOutcome, Lease, ManagerHealth, type PoolEvent, type PoolId, type PoolSpec } from "../../src/index.js"

const statusOf = (spec: PoolSpec, activeLeases: number): PoolStatus =>
  new PoolStatus({
    poolId: spec.id,
    state: "Ready",
    live: true,
    ready: true,
    draining: false,
    engine: spec.engine,
    protocol: "llamacpp",
    model: spec.model,
    ctxMax: spec.ctxMax,
    slotsTotal: spec.slots,
    slotsFree: spec.slots - activeLeases,
    activeLeases,
    generation: 1,
    restarts: 0
  })

/** The stub manager's layer (fresh state per build). */
export const StubPoolManager = Layer.scoped(
  PoolManager,
  Effect.gen(function*() {
    const pools = yield* Ref.make(new Map<PoolId, { spec: PoolSpec; leases: number }>())
    const hub = yield* Effect.acquireRelease(PubSub.unbounded<PoolEvent>(), PubSub.shutdown)
    let leaseSeq = 0
    const find = (poolId: PoolId) =>
      Effect.flatMap(Ref.get(pools), (m) => {
        const p = m.get(poolId)
        return p === undefined ? Effect.fail(new PoolNotFound({ poolId })) : Effect.succeed(p)
      })
    const update = (poolId: PoolId, delta: number, reason: string) =>
      Effect.flatMap(
        Ref.modify(pools, (m) => {
          const p = m.get(poolId)
          if (p === undefined) return [undefined, m] as const
          const next = { spec: p.spec, leases: p.leases + delta }
          return [statusOf(next.spec, next.leases), new Map(m).set(poolId, next)] as const
        }),
        (status) => status === undefined ? Effect.void : PubSub.publish(hub, new StatusChanged({ status, reason }))
      )
    const list = Effect.map(Ref.get(pools), (m) => [...m.values()].map((p) => statusOf(p.spec, p.leases)))
    const events = Stream.unwrapScoped(
      Effect.gen(function*() {
        const sub = yield* PubSub.subscribe(hub)
        const pools = yield* list
        return Stream.concat(Stream.succeed<PoolEvent>(new Snapshot({ pools })), Stream.fromQueue(sub))
      })
    )
    return PoolManager.of({
      register: (spec) =>
        Effect.gen(function*() {
          const m = yield* Ref.get(pools)
          if (m.has(spec.id)) return yield* new PoolAlreadyExists({ poolId: spec.id })
          yield* Ref.set(pools, new Map(m).set(spec.id, { spec, leases: 0 }))
          const status = statusOf(spec, 0)
          yield* PubSub.publish(hub, new StatusChanged({ status, reason: "registered" }))
          return status
        }),
      remove: (poolId) => Effect.zipRight(find(poolId), Ref.update(pools, (m) => (m.delete(poolId), new Map(m)))),
      list,
      status: (poolId) => Effect.map(find(poolId), (p) => statusOf(p.spec, p.leases)),
      preload: (poolId) => Effect.flatMap(find(poolId), () => Effect.dieMessage("stub: no engines")),
      drain: (poolId) =>
        Effect.as(find(poolId), new DrainOutcome({ forceStopped: false, durationMs: 0, leasesAtDeadline: 0 })),
      reload: (poolId) => Effect.flatMap(find(poolId), () => Effect.dieMessage("stub: no engines")),
      lease: (poolId) =>
        Effect.gen(function*() {
          const p = yield* find(poolId)
          if (p.leases >= p.spec.slots) {
            return yield* new SlotsExhausted({ poolId, slotsTotal: p.spec.slots })
          }
          yield* Effect.acquireRelease(
            update(poolId, 1, "lease-acquired"),
            () => update(poolId, -1, "lease-released")
          )
          leaseSeq += 1
          return new Lease({
            leaseId: `l${leaseSeq}`,
            poolId,
            generation: 1,
            url: "http://127.0.0.1:1",
            engine: p.spec.engine,
            protocol: "llamacpp",
            model: p.spec.model
          })
        }),
      events,
      watch: watchEvents(events),
      health: Effect.map(
        list,
        (l) => new ManagerHealth({ version: "stub", uptimeMs: 0, pools: l.length, ready: l.length })
      )
    })
  })
)
