/**
 * Dispatch benchmark: tasks per second through the Orchestrator (admission, queue, placement,
 * lease, engine adapter, task events) against calling the same mock engines directly with the
 * same engine adapter, at the same concurrency, in the same run. Engines run with `--tps 0`
 * (tokens as fast as they can), so the difference is the orchestrator's own cost per task.
 *
 *   node --conditions=@llama-orch/source --import tsx bench/dispatch/index.ts
 */
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { mockEngineCommand, mockEngineProfileArgs } from "@llama-orch/mock-engine"
import { EngineAdapter, NodeEngineTransport, Orchestrator, TaskRequest } from "@llama-orch/orchestrator-core"
import { EmbeddedPoolManager, EngineProfile, PoolManager } from "@llama-orch/pool-core"
import { Effect, Layer, Logger, LogLevel, Schema, Stream } from "effect"
import { type BenchTable, isEntryPoint, percentile, renderTable } from "../lib/BenchTable.js"

const pools = 2
const slotsPerPool = 4
const concurrency = pools * slotsPerPool
const tasks = 600
const rounds = 3
const warmup = 60
const maxTokens = 16

const mock = mockEngineCommand()
const profile = new EngineProfile({
  name: "mock",
  protocol: "llamacpp",
  command: mock.command,
  args: [...mock.args, ...mockEngineProfileArgs, "--tps", "0"]
})

const request = (i: number) =>
  Schema.decodeUnknownSync(TaskRequest)({
    model_ref: "bench",
    prompt: `benchmark task ${i}`,
    max_tokens: maxTokens,
    seed: i
  })

/** Runs `count` jobs on `workers` concurrent loops; answers the wall time and each job's latency. */
const drive = <E, R>(count: number, workers: number, job: (i: number, worker: number) => Effect.Effect<void, E, R>) =>
  Effect.gen(function*() {
    const latencies: Array<number> = []
    let next = 0
    const started = performance.now()
    yield* Effect.forEach(
      Array.from({ length: workers }, (_, w) => w),
      (worker) =>
        Effect.gen(function*() {
          while (next < count) {
            const i = next++
            const t = performance.now()
            yield* job(i, worker)
            latencies.push(performance.now() - t)
          }
        }),
      { concurrency: "unbounded", discard: true }
    )
    return { seconds: (performance.now() - started) / 1000, latencies }
  })

const measure = Effect.gen(function*() {
  const pm = yield* PoolManager
  const orchestrator = yield* Orchestrator
  yield* pm.events.pipe(
    Stream.flatMap((e) => e._tag === "Snapshot" ? Stream.fromIterable(e.pools) : Stream.succeed(e.status)),
    Stream.scan(new Set<string>(), (ready, s) => s.state === "Ready" ? new Set([...ready, s.poolId]) : ready),
    Stream.takeUntil((ready) => ready.size === pools),
    Stream.runDrain,
    Effect.timeout("120 seconds")
  )
  const targets = (yield* pm.list).flatMap((s) =>
    s.handoff === undefined ? [] : [{ url: s.handoff.url, protocol: s.protocol, model: s.model }]
  )
  const direct = (i: number, worker: number) =>
    EngineAdapter.run(targets[worker % targets.length] ?? targets[0], request(i), () => {})
  const orchestrated = (i: number) =>
    orchestrator.submit(request(i)).pipe(Effect.flatMap((a) => Stream.runDrain(orchestrator.events(a.taskId))))
  yield* drive(warmup, concurrency, direct)
  yield* drive(warmup, concurrency, orchestrated)
  // interleaved rounds, so that load from elsewhere on the machine hits both paths alike
  const d = { seconds: 0, latencies: new Array<number>() }
  const o = { seconds: 0, latencies: new Array<number>() }
  const add = (total: typeof d, r: typeof d) => {
    total.seconds += r.seconds
    total.latencies.push(...r.latencies)
  }
  for (let round = 0; round < rounds; round++) {
    add(d, yield* drive(tasks / rounds, concurrency, direct))
    add(o, yield* drive(tasks / rounds, concurrency, orchestrated))
  }
  return { d, o }
})

/** Runs the benchmark. */
export const run = async (): Promise<BenchTable> => {
  const program = Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "bench-dispatch-" })
    const manager = EmbeddedPoolManager.layer({
      profiles: [profile],
      stateDir,
      pools: Array.from(
        { length: pools },
        (_, i) => ({ id: `p${i}`, engine: "mock", model: "bench", slots: slotsPerPool })
      ),
      stopGraceMs: 2_000,
      shutdownDeadlineMs: 2_000
    })
    const stack = Orchestrator.layer({ queueCapacity: 10_000 }).pipe(Layer.provideMerge(manager))
    return yield* measure.pipe(Effect.provide(stack))
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici, NodeEngineTransport.layer())),
    // the pool manager's info lines would interleave with the tables
    Logger.withMinimumLogLevel(LogLevel.Warning)
  )
  const { d, o } = await Effect.runPromise(program)
  const row = (name: string, r: { readonly seconds: number; readonly latencies: ReadonlyArray<number> }) => [
    name,
    tasks,
    concurrency,
    Math.round(tasks / r.seconds),
    Number(percentile(r.latencies, 50).toFixed(2)),
    Number(percentile(r.latencies, 99).toFixed(2))
  ]
  const ratio = (tasks / o.seconds) / (tasks / d.seconds)
  return {
    title: "Dispatch: tasks per second through the Orchestrator vs the engines directly",
    columns: ["path", "tasks", "concurrency", "tasks/s", "p50 ms", "p99 ms"],
    rows: [row("engines directly", d), row("through Orchestrator", o), [
      "ratio orchestrator/direct",
      "",
      "",
      Number(ratio.toFixed(3)),
      "",
      ""
    ]],
    notes: [
      `${pools} mock engines × ${slotsPerPool} slots with --tps 0, ${maxTokens} tokens per task, embedded pool manager`,
      "both paths use the same engine adapter call (`EngineAdapter.run` over `NodeEngineTransport`, as orchestratord sends: HTTP + SSE parsing); the orchestrated path adds admission, queueing, placement, a lease, task events and the event stream (`events`)",
      `warm-up: ${warmup} tasks per path first; then ${rounds} interleaved rounds per path; same process, same run`
    ]
  }
}

if (isEntryPoint(import.meta.url)) {
  run().then((table) => process.stdout.write(`${renderTable(table)}\n`))
}
