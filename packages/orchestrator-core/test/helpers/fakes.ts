import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import {
  type EngineProtocol,
  PoolId,
  PoolManager,
  type PoolManagerService,
  PoolSpec,
  PoolStatus,
  watchEvents
} from "@llama-orch/pool-core"
import { InMemoryPoolManager } from "@llama-orch/pool-core/testing"
import { Effect, Layer, Schema } from "effect"

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

/** Counters the test pool manager keeps: active leases per pool, as its events report them. */
export interface LeaseCounters {
  readonly active: Map<string, number>
}

/**
 * The pool manager of the orchestrator tests: pool-core's in-memory `PoolManager` with `pools`
 * registered in their states (Ready ones with an engine at `http://engine.test`). `override`
 * replaces operations with what no manager does on its own — an unreachable remote manager, a list
 * that waits for the test, a load in progress — which the test kit rightly has no switch for.
 */
export const testPoolManager = (
  pools: ReadonlyArray<PoolStatus>,
  override: Partial<PoolManagerService> = {}
): { readonly layer: Layer.Layer<PoolManager>; readonly counters: LeaseCounters } => {
  const counters: LeaseCounters = { active: new Map() }
  const count = (status: PoolStatus) => counters.active.set(status.poolId, status.activeLeases)
  const layer = Layer.scoped(
    PoolManager,
    Effect.gen(function*() {
      const { control, manager } = yield* InMemoryPoolManager.make({
        engines: [{ name: "fake", protocol: "llamacpp" }, { name: "fake-openai", protocol: "openai" }],
        engineUrl: "http://engine.test",
        pools: pools.map((pool) =>
          PoolSpec.make({
            id: pool.poolId,
            engine: pool.protocol === "openai" ? "fake-openai" : "fake",
            model: pool.model,
            slots: pool.slotsTotal,
            ctxMax: pool.ctxMax,
            preload: pool.state === "Ready"
          })
        )
      })
      for (const pool of pools) {
        if (pool.state !== "Ready" && pool.state !== "Registered") {
          yield* Effect.orDie(control.setState(pool.poolId, pool.state))
        }
      }
      yield* Effect.forkScoped(manager.watch((event) => {
        if (event._tag === "Snapshot") event.pools.forEach(count)
        else count(event.status)
      }))
      yield* Effect.yieldNow()
      // a replaced `events` (a feed the test writes, one that is down) is what `watch` follows too
      const watch = override.events === undefined ? manager.watch : watchEvents(override.events)
      return { ...manager, watch, ...override }
    })
  )
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
