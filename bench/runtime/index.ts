/**
 * Runtime benchmark: what the machine charges for the building blocks the daemons are made of, so
 * that the other benchmarks' absolute figures can be read. Effect operations are timed against a
 * promise turn in the same run; Effect's HTTP server against a bare `node:http` server, both as
 * child processes answering `GET /health` to 8 concurrent clients (CPU time of the server process
 * per request).
 *
 *   node --conditions=@llama-orch/source --import tsx bench/runtime/index.ts
 */
import { Effect, Stream } from "effect"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type BenchTable, isEntryPoint, renderTable } from "../lib/BenchTable.js"
import { cpuMs, start, stop } from "../lib/Processes.js"

const root = fileURLToPath(new URL("../..", import.meta.url))

/** CPU time of this process per call of `f` (µs), after a warm-up of the same length. */
const perCall = async (times: number, f: () => Promise<unknown>): Promise<number> => {
  for (let i = 0; i < times; i++) await f()
  const before = process.cpuUsage()
  for (let i = 0; i < times; i++) await f()
  const used = process.cpuUsage(before)
  return (used.user + used.system) / times
}

/** CPU time per run of `effect` (µs), `times` runs inside one fiber. */
const perEffect = (times: number, effect: Effect.Effect<unknown>): Promise<number> => {
  const loop = Effect.gen(function*() {
    for (let i = 0; i < times; i++) yield* effect
  })
  return perCall(1, () => Effect.runPromise(loop)).then((us) => us / times)
}

/** CPU time of a server process per `GET /health` (µs), 8 requests at a time. */
const perRequest = async (mode: "bare" | "effect", requests: number): Promise<number> => {
  const server = await start(process.execPath, ["--import", "tsx", path.join(root, "bench/runtime/server.ts"), mode])
  try {
    const batch = () =>
      Promise.all(Array.from({ length: 8 }, () => fetch(`${server.url}/health`).then((r) => r.text())))
    for (let i = 0; i < requests / 8; i++) await batch()
    const before = cpuMs(server.proc.pid)
    for (let i = 0; i < requests / 8; i++) await batch()
    return ((cpuMs(server.proc.pid) - before) * 1000) / requests
  } finally {
    await stop(server)
  }
}

export const run = async (): Promise<BenchTable> => {
  const n = 20_000
  const promiseTurn = await perCall(n, () => Promise.resolve())
  const allocation = await perCall(
    5,
    () => Promise.resolve(Array.from({ length: 1_000_000 }, (_, i) => ({ i, s: `x${i}` }))).then(() => undefined)
  )
  const effects: ReadonlyArray<readonly [string, Effect.Effect<unknown>]> = [
    ["Effect.sync", Effect.sync(() => 1)],
    ["Effect.fork + await", Effect.flatMap(Effect.fork(Effect.void), (fiber) => fiber.await)],
    ["Effect.raceFirst(void, never)", Effect.raceFirst(Effect.void, Effect.never)],
    ["Effect.scoped + finalizer", Effect.scoped(Effect.addFinalizer(() => Effect.void))],
    ["Stream.runDrain(Stream.empty)", Stream.runDrain(Stream.empty)],
    ["Stream.runDrain(Stream.make(1, 2, 3))", Stream.runDrain(Stream.make(1, 2, 3))]
  ]
  const rows: Array<Array<string | number>> = [["a promise turn (baseline)", Number(promiseTurn.toFixed(2)), 1]]
  for (const [name, effect] of effects) {
    const us = await perEffect(n / 4, effect)
    rows.push([name, Number(us.toFixed(2)), Math.round(us / promiseTurn)])
  }
  const bare = await perRequest("bare", 4_000)
  const effect = await perRequest("effect", 4_000)
  rows.push(
    ["GET /health, bare node:http server (baseline)", Math.round(bare), 1],
    ["GET /health, Effect NodeHttpServer + HttpRouter", Math.round(effect), Number((effect / bare).toFixed(2))]
  )
  return {
    title: "Runtime: what the building blocks cost on this machine",
    columns: ["operation", "CPU µs", "× baseline"],
    rows,
    notes: [
      `allocating 1,000,000 small objects: ${Math.round(allocation / 1000)} ms of CPU`,
      "Effect operations: CPU time per run, many runs inside one fiber, after as many to warm up; baseline: awaiting a resolved promise",
      "HTTP: CPU time of the server process (Linux /proc, 10 ms ticks) per request, 8 requests at a time over keep-alive, after 4,000 to warm up"
    ]
  }
}

if (isEntryPoint(import.meta.url)) {
  run().then((table) => process.stdout.write(`${renderTable(table)}\n`))
}
