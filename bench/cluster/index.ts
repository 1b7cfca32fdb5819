/**
 * Cluster benchmark, all real processes on 127.0.0.1, measured in the same run:
 *
 * - dispatch: tasks per second, dispatch latency (submit → first token) and the daemons' CPU time
 *   per task through orchestratord over three pool-managerd nodes (`pool_managers`; every lease taken
 *   from the node, and done leases kept for the next task) vs through orchestratord with one embedded
 *   pool of the same total slots; same clients (`POST /v2/tasks` + the task's SSE stream),
 *   interleaved rounds;
 * - round trips: the `PoolClient` calls `status` and `lease`+release to one node over HTTP+NDJSON and
 *   over WebSocket (and `lease`+release through `PoolCluster`, a lease per call and done leases
 *   kept), next to a bare `node:http` JSON round trip (another process, the same fetch client as
 *   HTTP+NDJSON) as the floor; once before any orchestratord starts (nobody else follows the node),
 *   and once after the dispatch rounds, while the two cluster orchestratords follow its events (every
 *   lease and release is an event they receive, on the same two CPUs).
 *
 * `BENCH_CPU_PROF=<dir>` makes every daemon write a V8 CPU profile into `dir` when it stops.
 *
 *   node --conditions=@llama-orch/source --import tsx bench/cluster/index.ts
 */
import { NodeHttpClient, NodeSocket } from "@effect/platform-node"
import { PoolClient, PoolCluster } from "@llama-orch/pool-client"
import { PoolId, PoolManager, type PoolManagerService } from "@llama-orch/pool-core"
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type BenchTable, isEntryPoint, percentile, renderTable } from "../lib/BenchTable.js"
import { readData, waitReady } from "../lib/Http.js"
import { cpuMs, daemonSource, type Running, start, stop } from "../lib/Processes.js"
import { measure } from "../rpc/index.js"

const nodes = ["a", "b", "c"] as const
const slotsPerNode = 4
const concurrency = nodes.length * slotsPerNode
const tasks = 360
const rounds = 3
const warmup = 48
const maxTokens = 16
const token = "bench-token"

// BENCH_CPU_PROF=<dir>: every daemon writes a V8 CPU profile there when it exits (`--cpu-prof`)
const profileDir = process.env["BENCH_CPU_PROF"]
const tsx = [
  "--conditions=@llama-orch/source",
  "--import",
  "tsx",
  ...(profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`])
]
const daemon = (app: "orchestratord" | "pool-managerd", config: string) =>
  start(process.execPath, [...tsx, daemonSource(app), "--config", config, "--port", "0"])

/** A bare `node:http` server answering every POST with a small JSON body (the round-trip floor). */
const floorServer = `
const http = require("node:http")
const server = http.createServer((req, res) => {
  const chunks = []
  req.on("data", (c) => chunks.push(c))
  req.on("end", () => {
    const body = JSON.stringify({ echo: JSON.parse(Buffer.concat(chunks).toString() || "null"), state: "Ready" })
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
    res.end(body)
  })
})
server.listen(0, "127.0.0.1", () => console.log("listening on http://127.0.0.1:" + server.address().port))
`

/** Submits one task and reads its event stream to the end: dispatch latency (to the first token) and total. */
const task = async (base: string, i: number): Promise<{ readonly dispatch: number; readonly total: number }> => {
  const t0 = performance.now()
  const submitted = await fetch(`${base}/v2/tasks`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model_ref: "bench", prompt: `cluster ${i}`, max_tokens: maxTokens, seed: i })
  })
  const accepted: unknown = await submitted.json()
  if (typeof accepted !== "object" || accepted === null || !("task_id" in accepted)) {
    throw new Error(`not accepted: ${JSON.stringify(accepted)}`)
  }
  let dispatch = Number.NaN
  await readData(await fetch(`${base}/v2/tasks/${String(accepted.task_id)}/events`), (data) => {
    if (Number.isNaN(dispatch) && data.startsWith("{\"t\":")) dispatch = performance.now() - t0
  })
  return { dispatch, total: performance.now() - t0 }
}

interface Drive {
  seconds: number
  /** CPU time of the path's daemons (orchestratord and its pool-managerds, not the engines), in ms. */
  cpu: number
  readonly dispatch: Array<number>
  readonly total: Array<number>
}

/** A way through to the engines: an orchestratord URL and the daemons whose CPU time it costs. */
interface Path {
  readonly name: string
  readonly url: string
  readonly pids: ReadonlyArray<number | undefined>
}

const cpuOf = (path: Path) => path.pids.reduce((sum: number, pid) => sum + cpuMs(pid), 0)

/** `count` tasks on `concurrency` loops through `path`, added to `into`. */
const drive = async (path: Path, count: number, into: Drive): Promise<void> => {
  let next = 0
  const cpuBefore = cpuOf(path)
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const r = await task(path.url, next++)
      into.dispatch.push(r.dispatch)
      into.total.push(r.total)
    }
  }))
  into.seconds += (performance.now() - started) / 1000
  into.cpu += cpuOf(path) - cpuBefore
}

const dispatchTable = async (paths: ReadonlyArray<Path>): Promise<BenchTable> => {
  const scratch = (): Drive => ({ seconds: 0, cpu: 0, dispatch: [], total: [] })
  for (const path of paths) await drive(path, warmup, scratch())
  const drives = paths.map(scratch)
  // interleaved rounds, so that load from elsewhere on the machine hits every path alike
  for (let round = 0; round < rounds; round++) {
    for (const [i, path] of paths.entries()) await drive(path, tasks / rounds, drives[i] ?? scratch())
  }
  const ratio = (a: number, b: number) => Number((a / b).toFixed(3))
  const embedded = drives[0] ?? scratch()
  const rows = paths.map((path, i) => {
    const r = drives[i] ?? scratch()
    return [
      path.name,
      Math.round(tasks / r.seconds),
      i === 0 ? 1 : ratio(embedded.seconds, r.seconds),
      Number(percentile(r.dispatch, 50).toFixed(2)),
      i === 0 ? 1 : ratio(percentile(embedded.dispatch, 50), percentile(r.dispatch, 50)),
      Number(percentile(r.dispatch, 99).toFixed(2)),
      Number(percentile(r.total, 50).toFixed(2)),
      Number((r.cpu / tasks).toFixed(2))
    ]
  })
  return {
    title: "Cluster dispatch: orchestratord over 3 pool-managerd nodes vs one embedded pool",
    columns: [
      "path",
      "tasks/s",
      "× embedded",
      "dispatch p50 ms",
      "p50 × embedded",
      "dispatch p99 ms",
      "task p50 ms",
      "daemon CPU ms/task"
    ],
    rows,
    notes: [
      `${tasks} tasks per path in ${rounds} interleaved rounds after ${warmup} warm-up tasks, ${concurrency} clients (= slots), ${maxTokens} tokens per task, mock engines with --tps 0`,
      "dispatch = POST /v2/tasks → first token on the task's SSE stream; task = until the stream ends",
      "× embedded: throughput over the embedded pool's; p50 × embedded: embedded dispatch p50 over the path's (higher is better for both)",
      "daemon CPU: user + system time of the path's orchestratord and (cluster) its 3 pool-managerds during its rounds, per task (not the engines' or the clients'; Linux counts it in 10 ms ticks)",
      `lease_hold_ms 0: every task takes its lease from the node and gives it back (the per-task lease over the wire); ${PoolCluster.defaultLeaseHoldMs}: the default, a done task's lease serves the next task of its pool`,
      "every process (clients, 3 orchestratords, 3 pool-managerds, 4 engines) on one machine"
    ]
  }
}

/** One turn of the event loop, for I/O waiting behind calls that answer without any. */
const nextTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

const roundTripTable = (node: string, floor: string, watchers: string): Promise<BenchTable> =>
  Effect.gen(function*() {
    const poolId = Schema.decodeSync(PoolId)("p")
    const clientOf = (layer: Layer.Layer<PoolManager>) => Effect.map(Layer.build(layer), Context.get(PoolManager))
    const http = yield* clientOf(
      PoolClient.layer({ url: node, token: Redacted.make(token) }).pipe(Layer.provide(NodeHttpClient.layerUndici))
    )
    const ws = yield* clientOf(
      PoolClient.layer({ url: node, token: Redacted.make(token), protocol: "websocket" }).pipe(
        Layer.provide(NodeSocket.layerWebSocketConstructor)
      )
    )
    const bare = Effect.promise(() =>
      fetch(floor, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ pool: "p" })
      }).then((r) => r.json())
    )
    const floorSample = yield* measure(bare)
    const rows: Array<Array<string | number>> = [[
      "JSON round trip",
      "bare node:http",
      Math.round(floorSample.opsPerSecond),
      Number(floorSample.p50.toFixed(3)),
      Number(floorSample.p99.toFixed(3)),
      "1"
    ]]
    const row = (operation: string, name: string, op: Effect.Effect<unknown, unknown>) =>
      Effect.map(measure(op), (sample) =>
        rows.push([
          operation,
          name,
          Math.round(sample.opsPerSecond),
          Number(sample.p50.toFixed(3)),
          Number(sample.p99.toFixed(3)),
          Number((sample.p50 / floorSample.p50).toFixed(2))
        ]))
    const lease = (m: PoolManagerService) => Effect.scoped(m.lease(poolId))
    // a PoolClient alone: nothing else in this process follows the node's events
    for (const [name, manager] of [["HTTP+NDJSON", http], ["WebSocket", ws]] as const) {
      yield* row("status", name, manager.status(poolId))
    }
    for (const [name, manager] of [["HTTP+NDJSON", http], ["WebSocket", ws]] as const) {
      yield* row("lease + release", name, lease(manager))
    }
    // the cluster's way: the same WebSocket client under PoolCluster, which also follows the node's
    // events (each lease and release is an event it decodes, as an orchestrator does), a lease per
    // call, then done leases kept
    const cluster = (holdMs: number) =>
      PoolCluster.make({
        nodes: [{ name: "a", url: node, token: Redacted.make(token) }],
        multi: { leaseHoldMs: holdMs }
      }).pipe(
        Effect.map((multi) => multi.manager),
        Effect.provide(Layer.merge(NodeSocket.layerWebSocketConstructor, NodeHttpClient.layerUndici))
      )
    const clusterPoolId = Schema.decodeSync(PoolId)("a/p")
    for (const holdMs of [0, PoolCluster.defaultLeaseHoldMs]) {
      yield* Effect.scoped(Effect.flatMap(cluster(holdMs), (multi) =>
        holdMs === 0
          ? row("lease + release", "WebSocket, PoolCluster (lease per call)", Effect.scoped(multi.lease(clusterPoolId)))
          : row(
            "lease + release",
            `WebSocket, PoolCluster (lease kept ${holdMs} ms)`,
            // a kept lease answers without I/O: let the node's keepalives in between, as tasks do
            Effect.zipRight(Effect.scoped(multi.lease(clusterPoolId)), nextTurn)
          )))
    }
    return {
      title: `Cluster node round trips: PoolClient to a pool-managerd vs a bare node:http round trip (${watchers})`,
      columns: ["operation", "transport", "ops/s", "p50 ms", "p99 ms", "p50 × floor"],
      rows,
      notes: [
        "sequential calls (one in flight) after 50 warm-up calls, to node a (a pool-managerd process) and to a bare node:http process answering JSON",
        "the floor uses the same client stack as HTTP+NDJSON (undici fetch, keep-alive); WebSocket multiplexes every call on one socket",
        "HTTP+NDJSON and WebSocket rows: a PoolClient alone; a lease is one request in the client's lease session and its release one message",
        "PoolCluster rows: the cluster also follows the node's events in this process (a lease and its release are two events it receives, as an orchestrator does); lease kept: each call followed by a turn of the event loop (setImmediate, in the measured time), so the node's keepalives are read",
        `load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")} on ${os.cpus().length} CPUs`
      ]
    } satisfies BenchTable
  }).pipe(Effect.scoped, Effect.orDie, Effect.runPromise)

/** Runs the benchmark and returns its tables. */
export const run = async (): Promise<ReadonlyArray<BenchTable>> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cluster-bench-"))
  const write = (name: string, lines: ReadonlyArray<string>) => {
    const file = path.join(dir, `${name}.yaml`)
    fs.writeFileSync(file, lines.join("\n"))
    return file
  }
  const engine = "engines: [{ name: mock, mock: true, args: [\"--tps\", \"0\"] }]"
  const common = (name: string) => ["log_level: warning", `state_dir: ${JSON.stringify(path.join(dir, name))}`]
  const running: Array<Running> = []
  const spawn = async (p: Promise<Running>) => {
    const r = await p
    running.push(r)
    return r
  }
  try {
    const floor = await spawn(start(process.execPath, ["-e", floorServer]))
    const poolManagerds = await Promise.all(nodes.map((name) =>
      spawn(daemon(
        "pool-managerd",
        write(name, [
          ...common(name),
          `token: ${token}`,
          engine,
          `pools: [{ id: p, engine: mock, model: bench, slots: ${slotsPerNode} }]`
        ])
      ))
    ))
    const queue = ["queue:", "  capacity: 4096"]
    const clusterWith = (name: string, holdMs: number) =>
      spawn(daemon(
        "orchestratord",
        write(name, [
          ...common(name),
          ...queue,
          `lease_hold_ms: ${holdMs}`,
          "pool_managers:",
          ...poolManagerds.map((pm, i) => `  - { name: ${nodes[i]}, url: "${pm.url}", token: ${token} }`)
        ])
      ))
    const alone = await roundTripTable(
      poolManagerds[0]?.url ?? "",
      floor.url,
      "no other client on the node"
    )
    const perTask = await clusterWith("cluster-per-task", 0)
    const kept = await clusterWith("cluster", PoolCluster.defaultLeaseHoldMs)
    const embedded = await spawn(daemon(
      "orchestratord",
      write("embedded", [
        ...common("embedded"),
        ...queue,
        engine,
        `pools: [{ id: p, engine: mock, model: bench, slots: ${concurrency} }]`
      ])
    ))
    for (const orchestrator of [perTask, kept, embedded]) await waitReady(`${orchestrator.url}/ready`)
    const nodePids = poolManagerds.map((pm) => pm.proc.pid)
    const dispatch = await dispatchTable([
      { name: `embedded: 1 pool × ${concurrency} slots`, url: embedded.url, pids: [embedded.proc.pid] },
      {
        name: `cluster, lease_hold_ms 0: ${nodes.length} nodes × ${slotsPerNode} slots`,
        url: perTask.url,
        pids: [perTask.proc.pid, ...nodePids]
      },
      {
        name: `cluster, lease_hold_ms ${PoolCluster.defaultLeaseHoldMs}: ${nodes.length} nodes × ${slotsPerNode} slots`,
        url: kept.url,
        pids: [kept.proc.pid, ...nodePids]
      }
    ])
    const watched = await roundTripTable(
      poolManagerds[0]?.url ?? "",
      floor.url,
      "the two cluster orchestratords following the node's events"
    )
    return [dispatch, alone, watched]
  } finally {
    await Promise.all(running.map(stop))
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

if (isEntryPoint(import.meta.url)) {
  run().then((tables) => process.stdout.write(`${tables.map(renderTable).join("\n\n")}\n`))
}
