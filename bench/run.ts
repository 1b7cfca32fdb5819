/**
 * Runs the benchmarks and prints one table each.
 *
 *   pnpm bench            # every benchmark
 *   pnpm bench rpc queue  # only these
 */
import { type BenchTable, renderTable } from "./lib/BenchTable.js"

interface BenchModule {
  readonly run: () => Promise<BenchTable | ReadonlyArray<BenchTable>>
}

const benches: Record<string, () => Promise<BenchModule>> = {
  queue: () => import("./queue/index.js"),
  rpc: () => import("./rpc/index.js"),
  dispatch: () => import("./dispatch/index.js"),
  relay: () => import("./relay/index.js")
}

const isTableList = (r: BenchTable | ReadonlyArray<BenchTable>): r is ReadonlyArray<BenchTable> => Array.isArray(r)

const wanted = process.argv.slice(2)
const unknown = wanted.filter((name) => !(name in benches))
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(", ")}; known: ${Object.keys(benches).join(", ")}\n`)
  process.exit(2)
}
const selected = wanted.length > 0 ? wanted : Object.keys(benches)

process.stdout.write(`# llama-orch benchmarks\n\nnode ${process.version}, ${new Date().toISOString()}\n\n`)
for (const name of selected) {
  const load = benches[name]
  if (load === undefined) continue
  const started = performance.now()
  const mod = await load()
  const result = await mod.run()
  const tables = isTableList(result) ? result : [result]
  for (const table of tables) process.stdout.write(`${renderTable(table)}\n\n`)
  process.stdout.write(`_${name}: ${((performance.now() - started) / 1000).toFixed(1)} s_\n\n`)
}
