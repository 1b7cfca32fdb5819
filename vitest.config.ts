import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*", "examples/*", "scripts"],
    pool: "forks",
    reporters: ["default", "./scripts/vitest-summary-reporter.ts"]
  }
})
