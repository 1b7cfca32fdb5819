import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import {
  type EngineProtocol,
  Lease,
  ManagerHealth,
  PoolId,
  PoolManager,
  type PoolManagerService,
  PoolNotFound,
  PoolStatus,
  SlotsExhausted,
  Snapshot,
  watchEvents
} from "@llama-orch/pool-core"
import { Effect, Layer, Schema, Stream } from "effect"

/** A Ready (or other state) pool status for tests. */
export const poolStatus = (
  id: string,
  options: {
    readonly model?: string
    readonly slots?: number
    readonly state?: PoolStatus["state"]
    readonly ctxMax?: number
    readonly protocol?: EngineProtocol
  } = {}
): PoolStatus => {
  const slots = options.slots ?? 2
  const state = options.state ?? "Ready"
  return new PoolStatus({
    poolId: Schema.decodeSync(PoolId)(id),
    state,
    live: state === "Ready",
    ready: state === "Ready",
    draining: false,
    engine: "fake",
    protocol: options.protocol ?? "llamacpp",
    model: options.model ?? "m",
    ctxMax: options.ctxMax ?? 4096,
    slotsTotal: slots,
    slotsFree: slots,
    activeLeases: 0,
    generation: 1,
    restarts: 0
  })
}

/** Counters a fake pool manager keeps: active leases per pool, and the most ever seen. */
export interface LeaseCounters {
  readonly active: Map<string, number>
  readonly peak: Map<string, number>
}

/**
 * A pool manager over fixed statuses: `lease` takes a slot (or fails with `SlotsExhausted`) and
 * gives it back when its scope closes. `url` is where leases send work.
 */
export const fakePoolManager = (
  pools: ReadonlyArray<PoolStatus>,
  url: (pool: PoolStatus) => string = () => "http://engine.test",
  override: Partial<PoolManagerService> = {}
): { readonly layer: Layer.Layer<PoolManager>; readonly counters: LeaseCounters } => {
  const counters: LeaseCounters = { active: new Map(), peak: new Map() }
  let next = 0
  const find = (poolId: string) => {
    const pool = pools.find((p) => p.poolId === poolId)
    return pool === undefined ? Effect.fail(new PoolNotFound({ poolId })) : Effect.succeed(pool)
  }
  const unused = Effect.dieMessage("not used by the orchestrator")
  const service: Omit<PoolManagerService, "watch"> & Partial<PoolManagerService> = {
    register: () => unused,
    remove: () => unused,
    list: Effect.succeed(pools),
    status: find,
    preload: () => unused,
    drain: () => unused,
    reload: () => unused,
    lease: (poolId) =>
      Effect.gen(function*() {
        const pool = yield* find(poolId)
        const active = counters.active.get(poolId) ?? 0
        if (active >= pool.slotsTotal) return yield* new SlotsExhausted({ poolId, slotsTotal: pool.slotsTotal })
        counters.active.set(poolId, active + 1)
        counters.peak.set(poolId, Math.max(counters.peak.get(poolId) ?? 0, active + 1))
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => counters.active.set(poolId, (counters.active.get(poolId) ?? 1) - 1))
        )
        return new Lease({
          leaseId: `l${next++}`,
          poolId: pool.poolId,
          generation: 1,
          url: url(pool),
          engine: pool.engine,
          protocol: pool.protocol,
          model: pool.model
        })
      }),
    events: Stream.concat(Stream.make(new Snapshot({ pools })), Stream.never),
    health: Effect.succeed(
      new ManagerHealth({ version: "test", uptimeMs: 0, pools: pools.length, ready: pools.length })
    ),
    ...override
  }
  const layer = Layer.succeed(PoolManager, { ...service, watch: service.watch ?? watchEvents(service.events) })
  return { layer, counters }
}

/** How a fake engine answers one request: SSE events, then close, hang or break the connection. */
export interface Script {
  readonly status?: number
  readonly events: ReadonlyArray<string>
  readonly then: "close" | "hang" | "break"
}

/** A llama.cpp `/completion` script producing these tokens and the final event. */
export const llamaTokens = (tokens: ReadonlyArray<string>): Script => ({
  events: [
    ...tokens.map((t) => JSON.stringify({ content: t, stop: false })),
    JSON.stringify({ content: "", stop: true, tokens_predicted: tokens.length, tokens_evaluated: 3 })
  ],
  then: "close"
})

/** What the fake engine saw: request bodies and how many requests were aborted by the client. */
export interface EngineLog {
  readonly requests: Array<{ readonly url: string; readonly body: unknown }>
  aborted: number
}

/**
 * An `HttpClient` that answers every request from `script(request index)` with an SSE body built
 * in memory, so tests drive timing with the TestClock. Aborts are counted.
 */
export const fakeEngine = (
  script: (index: number) => Script
): { readonly layer: Layer.Layer<HttpClient.HttpClient>; readonly log: EngineLog } => {
  const log: EngineLog = { requests: [], aborted: 0 }
  const client = HttpClient.make((request, url, signal) =>
    Effect.sync(() => {
      const index = log.requests.length
      const body = request.body._tag === "Uint8Array" ? JSON.parse(new TextDecoder().decode(request.body.body)) : null
      log.requests.push({ url: url.toString(), body })
      signal.addEventListener("abort", () => log.aborted++)
      const s = script(index)
      const encoder = new TextEncoder()
      const readable = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const e of s.events) controller.enqueue(encoder.encode(`data: ${e}\n\n`))
          if (s.then === "close") controller.close()
          if (s.then === "break") controller.error(new Error("connection reset"))
        }
      })
      return HttpClientResponse.fromWeb(request, new Response(readable, { status: s.status ?? 200 }))
    })
  )
  return { layer: Layer.succeed(HttpClient.HttpClient, client), log }
}
