import { mergeConfig } from "vitest/config"
import { shared } from "../vitest.shared.js"

export default mergeConfig(shared, { test: { name: "release", testTimeout: 600_000, hookTimeout: 600_000 } })
