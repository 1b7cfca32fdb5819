#!/usr/bin/env node
/**
 * The `mock-engine` executable.
 */
import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import { mockEngine } from "./internal/cli.js"
import { packageVersion } from "./internal/version.js"

Command.run(mockEngine, { name: "mock-engine", version: `version: ${packageVersion()} (mock-engine)` })(process.argv)
  .pipe(
    Effect.provide(NodeContext.layer),
    NodeRuntime.runMain({ disableErrorReporting: false })
  )
