/**
 * Queue benchmark: operations per second of the orchestrator's two-priority task queue at 1k and
 * 100k queued tasks. Each measured operation keeps the size constant: enqueue + dequeue, or
 * cancel (removal by id) + enqueue. O(1) operations show a 100k/1k ratio near 1.
 *
 *   node --conditions=@llama-orch/source --import tsx bench/queue/index.ts
 */
import { type Entry, TaskQueue } from "@llama-orch/orchestrator-core"
import { type BenchTable, isEntryPoint, renderTable } from "../lib/BenchTable.js"

const operations = 1_000_000

/** Task ids built before any timing, so the loops measure the queue and not string building. */
const ids = Array.from({ length: 100_000 + operations }, (_, i) => `t${i}`)
const id = (i: number): string => ids[i] ?? ""
const priority = (i: number) => i % 4 === 0 ? "interactive" as const : "batch" as const

const fill = (size: number) => {
  const queue = new TaskQueue<number>(size + 1, "reject")
  const entries: Array<Entry<number>> = []
  for (let i = 0; i < size; i++) {
    const offered = queue.offer(id(i), i, priority(i))
    if (offered._tag === "Admitted") entries.push(offered.entry)
  }
  return { queue, entries }
}

/** Enqueue + dequeue pairs per second (mixed priorities). */
const enqueueDequeue = (size: number): number => {
  const { queue } = fill(size)
  let next = size
  const started = performance.now()
  for (let i = 0; i < operations; i++) {
    queue.offer(id(next), next, priority(next))
    next++
    queue.dequeue()
  }
  return operations / ((performance.now() - started) / 1000)
}

/** Cancel (remove a queued task from anywhere in the queue) + enqueue pairs per second. */
const cancelEnqueue = (size: number): number => {
  const { entries, queue } = fill(size)
  let next = size
  let seed = 12345
  const started = performance.now()
  for (let i = 0; i < operations; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648
    const slot = seed % size
    const victim = entries[slot]
    if (victim !== undefined) queue.remove(victim)
    const offered = queue.offer(id(next), next, priority(next))
    if (offered._tag === "Admitted") entries[slot] = offered.entry
    next++
  }
  return operations / ((performance.now() - started) / 1000)
}

/** Baseline: a plain array queue (push + shift), the O(n) structure this queue replaces. */
const arrayEnqueueDequeue = (size: number): number => {
  const queue: Array<number> = Array.from({ length: size }, (_, i) => i)
  const n = baselineOperations
  const started = performance.now()
  for (let i = 0; i < n; i++) {
    queue.push(i)
    queue.shift()
  }
  return n / ((performance.now() - started) / 1000)
}

/** Baseline: cancel in a plain array queue (indexOf + splice) + push. */
const arrayCancelEnqueue = (size: number): number => {
  const queue: Array<number> = Array.from({ length: size }, (_, i) => i)
  const n = baselineOperations
  let seed = 12345
  let next = size
  const started = performance.now()
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648
    const victim = queue[seed % size] ?? 0
    queue.splice(queue.indexOf(victim), 1)
    queue.push(next++)
  }
  return n / ((performance.now() - started) / 1000)
}

const baselineOperations = 20_000

const best = (f: () => number): number => Math.max(f(), f(), f())

/** Runs the benchmark. */
export const run = async (): Promise<BenchTable> => {
  const rows: Array<Array<string | number>> = []
  const cases = [
    ["enqueue + dequeue", enqueueDequeue],
    ["cancel + enqueue", cancelEnqueue],
    ["baseline array: push + shift", arrayEnqueueDequeue],
    ["baseline array: indexOf + splice + push", arrayCancelEnqueue]
  ] as const
  for (const [name, f] of cases) {
    const small = best(() => f(1_000))
    const large = best(() => f(100_000))
    rows.push([name, Math.round(small), Math.round(large), large / small])
  }
  return {
    title: "TaskQueue: operations per second by queue size",
    columns: ["operation", "ops/s at 1k", "ops/s at 100k", "ratio 100k/1k"],
    rows,
    notes: [
      `${operations.toLocaleString("en-US")} operations per measurement (baselines: ${
        baselineOperations.toLocaleString("en-US")
      }), best of 3; the queue size stays constant`,
      "O(1) shows as a ratio that stays far from the O(n) baselines' (≈ 1k/100k = 0.01); ids are built before timing",
      "what remains below 1 is memory, not work: at 100k every entry lives long enough to be promoted to V8's old generation and the lists no longer fit in cache"
    ]
  }
}

if (isEntryPoint(import.meta.url)) {
  run().then((table) => process.stdout.write(`${renderTable(table)}\n`))
}
