import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*", "examples/*", "scripts", "deploy"],
    pool: "forks",
    // Most test files wait on real processes and sockets rather than compute, so run more files
    // at once than there are cores (the default is one fewer than the cores: one at a time on 2).
    maxWorkers: 4,
    minWorkers: 1,
    reporters: ["default", "./scripts/vitest-summary-reporter.ts"]
  }
})
