/**
 * The result of one benchmark: a table with a title, column names and rows, plus notes.
 */
export interface BenchTable {
  readonly title: string
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string | number>>
  readonly notes?: ReadonlyArray<string>
}

const cell = (value: string | number): string =>
  typeof value === "number"
    ? Number.isInteger(value)
      ? value.toLocaleString("en-US")
      : value.toLocaleString("en-US", { maximumFractionDigits: 3 })
    : value

/** Renders a table as GitHub-flavoured Markdown (readable in a terminal too). */
export const renderTable = (table: BenchTable): string => {
  const rows = table.rows.map((row) => row.map(cell))
  const widths = table.columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`
  const out = [
    `### ${table.title}`,
    "",
    line(table.columns),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.map(line)
  ]
  if (table.notes && table.notes.length > 0) out.push("", ...table.notes.map((n) => `- ${n}`))
  return out.join("\n")
}

/** Percentile (0..100) of a list of samples, nearest-rank. */
export const percentile = (samples: ReadonlyArray<number>, p: number): number => {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? Number.NaN
}

/** Runs `main` when the module is the process entry point (for standalone bench files). */
export const isEntryPoint = (importMetaUrl: string): boolean =>
  process.argv[1] !== undefined && new URL(importMetaUrl).pathname === process.argv[1]
