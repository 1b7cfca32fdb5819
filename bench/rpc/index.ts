/**
 * RPC benchmark: `status` and `lease`+release round trips of the `PoolManager`, embedded vs over RPC
 * (HTTP+NDJSON and WebSocket), measured in the same run against one real mock engine. The RPC
 * server runs in the same process on 127.0.0.1 (what is measured is the transport: encoding, HTTP
 * or socket, decoding), calls are sequential (one in flight).
 *
 *   node --conditions=@llama-orch/source --import tsx bench/rpc/index.ts
 */
import { FileSystem, HttpLayerRouter, HttpServer } from "@effect/platform"
import { NodeContext, NodeHttpClient, NodeHttpServer, NodeSocket } from "@effect/platform-node"
import { mockEngineCommand, mockEngineProfileArgs } from "@llama-orch/mock-engine"
import { PoolClient } from "@llama-orch/pool-client"
import {
  EmbeddedPoolManager,
  EngineProfile,
  PoolId,
  PoolManager,
  type PoolManagerService,
  PoolRpcHandlers,
  PoolSpec
} from "@llama-orch/pool-core"
import { Context, Effect, Layer, Logger, LogLevel, Redacted, Schema } from "effect"
import { createServer } from "node:http"
import { cpus, loadavg } from "node:os"
import { type BenchTable, isEntryPoint, percentile, renderTable } from "../lib/BenchTable.js"

const seconds = Number(process.env["BENCH_RPC_SECONDS"] ?? 3)
const token = Redacted.make("bench-token")
const poolId = Schema.decodeSync(PoolId)("bench")
const mock = mockEngineCommand()

interface Sample {
  readonly opsPerSecond: number
  readonly p50: number
  readonly p99: number
}

/** Runs `op` sequentially for `BENCH_RPC_SECONDS` (default 3) (after a short warm-up) and records each latency. */
export const measure = <E>(op: Effect.Effect<unknown, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 50; i++) yield* op
    const latencies: Array<number> = []
    const started = performance.now()
    while (performance.now() - started < seconds * 1000) {
      const t0 = performance.now()
      yield* op
      latencies.push(performance.now() - t0)
    }
    const elapsed = (performance.now() - started) / 1000
    return {
      opsPerSecond: latencies.length / elapsed,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99)
    } satisfies Sample
  })

const serve = Effect.gen(function*() {
  const context = yield* Layer.build(
    HttpLayerRouter.serve(PoolRpcHandlers.layerRoute({ token }), { disableLogger: true, disableListenLog: true }).pipe(
      Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
    )
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  return address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : ""
})

const clientOf = (layer: Layer.Layer<PoolManager>) => Effect.map(Layer.build(layer), Context.get(PoolManager))

const program = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "bench-rpc-" })
  const embeddedContext = yield* Layer.build(
    EmbeddedPoolManager.layer({
      profiles: [
        new EngineProfile({
          name: "mock",
          protocol: "llamacpp",
          command: mock.command,
          args: [...mock.args, ...mockEngineProfileArgs]
        })
      ],
      stateDir,
      stopGraceMs: 2_000,
      shutdownDeadlineMs: 1_000
    })
  )
  const embedded = Context.get(embeddedContext, PoolManager)
  yield* embedded.register(Schema.decodeUnknownSync(PoolSpec)({ id: "bench", engine: "mock", model: "m", slots: 1024 }))
  yield* embedded.preload(poolId)
  const url = yield* serve.pipe(Effect.provide(embeddedContext))
  const http = yield* clientOf(PoolClient.layer({ url, token }).pipe(Layer.provide(NodeHttpClient.layerUndici)))
  const ws = yield* clientOf(
    PoolClient.layer({ url, token, protocol: "websocket" }).pipe(Layer.provide(NodeSocket.layerWebSocketConstructor))
  )
  const targets: ReadonlyArray<readonly [string, PoolManagerService]> = [
    ["embedded", embedded],
    ["RPC HTTP+NDJSON", http],
    ["RPC WebSocket", ws]
  ]
  const rows: Array<Array<string | number>> = []
  for (
    const [operation, op] of [
      ["status", (m: PoolManagerService) => m.status(poolId)],
      ["lease + release", (m: PoolManagerService) => Effect.scoped(m.lease(poolId))]
    ] as const
  ) {
    let baseline = Number.NaN
    for (const [name, manager] of targets) {
      const sample = yield* measure(op(manager))
      if (name === "embedded") baseline = sample.opsPerSecond
      rows.push([
        operation,
        name,
        Math.round(sample.opsPerSecond),
        Number(sample.p50.toFixed(3)),
        Number(sample.p99.toFixed(3)),
        name === "embedded" ? "1" : `1/${(baseline / sample.opsPerSecond).toFixed(0)}`
      ])
    }
  }
  return {
    title: "PoolManager round trips: embedded vs RPC",
    columns: ["operation", "layer", "ops/s", "p50 ms", "p99 ms", "vs embedded"],
    rows,
    notes: [
      `sequential calls for ${seconds} s each after 50 warm-up calls; server and client in one process on 127.0.0.1`,
      "RPC lease + release = AcquireLease in the client's lease session (opened by the first lease), then ReleaseLease (over WebSocket sent without waiting for its answer; over HTTP a POST whose answer is awaited)",
      `load average at the end: ${
        loadavg().map((l) => l.toFixed(1)).join(" ")
      } on ${cpus().length} CPUs (latencies include scheduling delays)`,
      "HTTP+NDJSON opens one POST per call (undici keep-alive pool); WebSocket multiplexes every call on one socket"
    ]
  } satisfies BenchTable
})

/** Runs the benchmark and returns its table. */
export const run = (): Promise<BenchTable> =>
  Effect.runPromise(
    Effect.scoped(program).pipe(
      Effect.provide(NodeContext.layer),
      Effect.provide(NodeHttpClient.layerUndici),
      // the pool manager's info lines would interleave with the tables
      Logger.withMinimumLogLevel(LogLevel.Warning)
    )
  )

if (isEntryPoint(import.meta.url)) {
  run().then((table) => process.stdout.write(`${renderTable(table)}\n`))
}
