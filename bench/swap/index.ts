/**
 * Swap benchmark: what loading models on demand costs beyond the engine's own load time, and how
 * often alternating traffic swaps models with and without grouping.
 *
 * - Cold start: a task for an unloaded model until its first token, minus the mock engine's
 *   `--load-ms`; the floor is the same engine started directly (spawn, health polled every 2 ms,
 *   one request) in the same run.
 * - Ready detection: the engine's `/health` turning 200 (polled every millisecond by the benchmark
 *   on the port of the engine's command line) until the pool manager reports the pool Ready.
 * - Swaps per minute: two models that do not fit together on one device, half the clients on each,
 *   each sending its next request when the last one ended (requests arrive A, B, A, B), with
 *   `model_aging_ms` 10 s (grouping) and 0 (no grouping).
 *
 *   node --conditions=@llama-orch/source --import tsx bench/swap/index.ts
 */
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { Clock, Effect, Layer, Logger, LogLevel, Schema, Stream } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { mockEngineCommand, mockEngineProfileArgs } from "../../packages/mock-engine/src/index.js"
import {
  NodeEngineTransport,
  Orchestrator,
  type OrchestratorService,
  TaskRequest
} from "../../packages/orchestrator-core/src/index.js"
import {
  CatalogModel,
  Devices,
  EmbeddedPoolManager,
  EngineProfile,
  PoolManager,
  type PoolManagerService,
  type PoolStatus
} from "../../packages/pool-core/src/index.js"
import { type BenchTable, isEntryPoint, percentile, renderTable } from "../lib/BenchTable.js"

const loadMs = 400
const coldSamples = 8
const swapSeconds = 20
const clients = 8
const mock = mockEngineCommand()

const profile = (name: string, load: number) =>
  new EngineProfile({
    name,
    protocol: "llamacpp",
    command: mock.command,
    args: [...mock.args, ...mockEngineProfileArgs, "--tps", "200", "--load-ms", String(load)]
  })

const catalog = (engine: string) =>
  ["model-a", "model-b"].map((id) =>
    CatalogModel.make({ id, engine, model: `${id}.gguf`, slots: 4, ctxMax: 4096, footprintMb: 600 })
  )

const request = (model: string, maxTokens: number) =>
  Schema.decodeUnknownSync(TaskRequest)({ model_ref: model, prompt: "swap benchmark", max_tokens: maxTokens })

/** Runs one task to its end; answers ms from submit to its first token. */
const firstToken = (orchestrator: OrchestratorService, model: string, maxTokens: number) =>
  Effect.gen(function*() {
    const started = performance.now()
    const admission = yield* orchestrator.submit(request(model, maxTokens))
    let first = Number.NaN
    yield* orchestrator.events(admission.taskId).pipe(
      Stream.runForEach((e) =>
        Effect.sync(() => {
          if (e.event._tag === "token" && Number.isNaN(first)) first = performance.now() - started
          if (e.event._tag === "failed") throw new Error(`task failed: ${e.event.code} ${e.event.message}`)
        })
      )
    )
    return first
  })

/** Sum of every model's load count. */
const loadsSoFar = (pm: PoolManagerService) =>
  Effect.map(pm.models, (models) => models.reduce((n, m) => n + m.loads, 0))

/** Cold starts of model-a (unloaded before each) with the time from its engine's health OK to Ready. */
const coldStarts = Effect.gen(function*() {
  const pm = yield* PoolManager
  const orchestrator = yield* Orchestrator
  const readyDetection: Array<number> = []
  let readyAt: number | undefined
  yield* pm.watch((event) => {
    const statuses: ReadonlyArray<PoolStatus> = event._tag === "Snapshot" ? event.pools : [event.status]
    for (const s of statuses) if (s.state === "Ready" && s.modelId === "model-a") readyAt ??= performance.now()
  }).pipe(Effect.forkScoped)
  const overhead: Array<number> = []
  for (let i = 0; i < coldSamples + 1; i++) {
    yield* Effect.ignore(pm.unload("model-a"))
    readyAt = undefined
    const [ms, healthOkAt] = yield* Effect.all([
      firstToken(orchestrator, "model-a", 1),
      Effect.promise(() => healthTurnsOk("model-a.gguf"))
    ], { concurrency: 2 })
    // the first start warms the code paths
    if (i === 0) continue
    overhead.push(ms - loadMs)
    if (readyAt !== undefined) readyDetection.push(readyAt - healthOkAt)
  }
  return { overhead, readyDetection }
})

/** Finds the engine of `model` on its command line, polls its /health every ms; answers when it turned 200. */
const healthTurnsOk = async (model: string): Promise<number> => {
  for (;;) {
    const line = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
      .split("\n")
      .find((l) => l.includes(`--model ${model}`) && l.includes(`--load-ms ${loadMs}`))
    const port = line === undefined ? undefined : /--port (\d+)/.exec(line)?.[1]
    if (port !== undefined) {
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status === 200, () => false)
        if (ok) return performance.now()
        await new Promise((r) => setTimeout(r, 1))
      }
    }
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** The same engine started directly: spawn, poll its health every 2 ms, one streamed request. */
const directColdStart = () =>
  new Promise<number>((resolve, reject) => {
    const started = performance.now()
    const args = [...mock.args, "--port", "0", "--tps", "200", "--load-ms", String(loadMs)]
    const proc = spawn(mock.command, args, { stdio: ["ignore", "pipe", "ignore"] })
    let out = ""
    proc.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1]
      if (url === undefined || out === "") return
      out = ""
      const poll = async (): Promise<void> => {
        while ((await fetch(`${url}/health`).then((r) => r.status, () => 0)) !== 200) {
          await new Promise((r) => setTimeout(r, 2))
        }
        const response = await fetch(`${url}/completion`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ prompt: "swap benchmark", n_predict: 1, stream: true })
        })
        await response.body?.getReader().read()
        resolve(performance.now() - started - loadMs)
        proc.kill("SIGTERM")
      }
      poll().catch(reject)
    })
    proc.on("error", reject)
  })

/** Half the clients on model-a, half on model-b, for `swapSeconds`; answers swaps and tasks per minute. */
const alternating = Effect.gen(function*() {
  const pm = yield* PoolManager
  const orchestrator = yield* Orchestrator
  const before = yield* loadsSoFar(pm)
  const started = yield* Clock.currentTimeMillis
  let tasks = 0
  yield* Effect.forEach(
    Array.from({ length: clients }, (_, c) => c),
    (c) =>
      Effect.gen(function*() {
        while ((yield* Clock.currentTimeMillis) - started < swapSeconds * 1000) {
          yield* firstToken(orchestrator, c % 2 === 0 ? "model-a" : "model-b", 16)
          tasks++
        }
      }),
    { concurrency: "unbounded", discard: true }
  )
  const minutes = ((yield* Clock.currentTimeMillis) - started) / 60_000
  return { swaps: ((yield* loadsSoFar(pm)) - before) / minutes, tasks: tasks / minutes }
})

/** Runs `measure` against an embedded manager of the two models on a 1000 MB device. */
const withStack = <A, E>(
  load: number,
  modelAgingMs: number,
  measure: Effect.Effect<A, E, PoolManager | Orchestrator | import("effect/Scope").Scope>
) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "bench-swap-" })
    const manager = EmbeddedPoolManager.layer({
      profiles: [profile("mock", load)],
      stateDir,
      pools: [],
      models: catalog("mock"),
      devices: [Devices.Device.make({ id: "0", memoryMb: 1000 })],
      defaultMinResidencyMs: 0,
      stopGraceMs: 2_000,
      shutdownDeadlineMs: 2_000
    })
    const stack = Orchestrator.layer({ modelAgingMs }).pipe(Layer.provideMerge(manager))
    return yield* measure.pipe(Effect.provide(stack))
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici, NodeEngineTransport.layer())),
    Logger.withMinimumLogLevel(LogLevel.Warning)
  )

const fixed = (n: number) => Number(n.toFixed(1))

/** Runs the benchmark. */
export const run = async (): Promise<ReadonlyArray<BenchTable>> => {
  const cold = await Effect.runPromise(withStack(loadMs, 30_000, Effect.scoped(coldStarts)))
  const direct: Array<number> = []
  for (let i = 0; i < coldSamples + 1; i++) direct.push(await directColdStart())
  direct.shift()
  const grouped = await Effect.runPromise(withStack(100, 10_000, alternating))
  const ungrouped = await Effect.runPromise(withStack(100, 0, alternating))
  const row = (name: string, samples: ReadonlyArray<number>, aim: string) => [
    name,
    samples.length,
    fixed(percentile(samples, 50)),
    fixed(percentile(samples, 95)),
    aim
  ]
  const overheadOverFloor = cold.overhead.map((ms, i) => ms - (direct[i] ?? Number.NaN))
  return [
    {
      title: "Swap: cold start and Ready detection (ms)",
      columns: ["measure", "samples", "p50 ms", "p95 ms", "aim"],
      rows: [
        row("cold start through the orchestrator, minus --load-ms", cold.overhead, ""),
        row("floor: the engine started directly, minus --load-ms", direct, ""),
        row("cold-start overhead (orchestrated minus floor)", overheadOverFloor, "≤ 50"),
        row("Ready detection (engine health OK → pool Ready)", cold.readyDetection, "≤ 50")
      ],
      notes: [
        `mock engine with --load-ms ${loadMs}; each sample unloads model-a, then times one task's first token`,
        "the floor spawns the same mock engine, polls /health every 2 ms and streams one completion, in the same run"
      ]
    },
    {
      title: "Swap: alternating A/B traffic, two models that do not fit together",
      columns: ["queue.model_aging_ms", "swaps/min", "tasks/min"],
      rows: [
        ["10000 (grouping)", fixed(grouped.swaps), Math.round(grouped.tasks)],
        ["0 (no grouping)", fixed(ungrouped.swaps), Math.round(ungrouped.tasks)]
      ],
      notes: [
        `${clients} clients, half on model-a and half on model-b, each sending its next request (16 tokens at 200 tokens/s) when the last ended, for ${swapSeconds} s`,
        "one 1000 MB device, each model 600 MB, engine --load-ms 100, min residency 0; swaps = model loads"
      ]
    }
  ]
}

if (isEntryPoint(import.meta.url)) {
  run().then((tables) => {
    for (const table of tables) process.stdout.write(`${renderTable(table)}\n\n`)
  })
}
