/**
 * Runs the benchmarks (every bench/<name>/index.ts exporting run()) and prints one table each.
 *
 *   pnpm bench            # every benchmark
 *   pnpm bench rpc queue  # only these
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { type BenchTable, renderTable } from "./lib/BenchTable.js"

interface BenchModule {
  readonly run: () => Promise<BenchTable | ReadonlyArray<BenchTable>>
}

const isBenchModule = (u: unknown): u is BenchModule =>
  typeof u === "object" && u !== null && "run" in u && typeof u.run === "function"

/** Every folder of bench/ with an index.ts is a benchmark, named after the folder. */
const here = path.dirname(new URL(import.meta.url).pathname)
const benches: Record<string, () => Promise<BenchModule>> = Object.fromEntries(
  fs.readdirSync(here, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && fs.existsSync(path.join(here, entry.name, "index.ts")))
    .map((entry) => [entry.name, async () => {
      const mod: unknown = await import(pathToFileURL(path.join(here, entry.name, "index.ts")).href)
      if (!isBenchModule(mod)) throw new Error(`bench/${entry.name}/index.ts does not export run()`)
      return mod
    }])
)

const isTableList = (r: BenchTable | ReadonlyArray<BenchTable>): r is ReadonlyArray<BenchTable> => Array.isArray(r)

const wanted = process.argv.slice(2)
const unknown = wanted.filter((name) => !(name in benches))
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(", ")}; known: ${Object.keys(benches).join(", ")}\n`)
  process.exit(2)
}
const order = ["runtime", "queue", "rpc", "dispatch", "relay", "cluster", "swap"]
const selected = wanted.length > 0 ? wanted : Object.keys(benches).sort((a, b) => order.indexOf(a) - order.indexOf(b))

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
