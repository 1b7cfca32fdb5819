import { defineProject } from "vitest/config"

/** Shared vitest settings: workspace packages resolve to their TypeScript sources. */
export const sourceConditions = ["@llama-orch/source"]

export const shared = defineProject({
  resolve: { conditions: sourceConditions },
  ssr: { resolve: { conditions: sourceConditions, externalConditions: sourceConditions } },
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: [new URL("./vitest.setup.ts", import.meta.url).pathname],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
