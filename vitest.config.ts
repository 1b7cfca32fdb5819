import { defineConfig } from "vitest/config"
import LongPolesFirst from "./scripts/vitest-sequencer.js"

export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*", "examples/*", "scripts", "deploy"],
    pool: "forks",
    // Most test files wait on real processes and sockets rather than compute, so run more files
    // at once than there are cores (the default is one fewer than the cores: one at a time on 2).
    maxWorkers: 4,
    minWorkers: 1,
    // the packaging test starts first: it alone takes most of the run, the rest runs beside it
    sequence: { sequencer: LongPolesFirst },
    reporters: ["default", "./scripts/vitest-summary-reporter.ts"]
  }
})
