#!/usr/bin/env node
/**
 * The `mock-engine` executable. A bad command line (or `--wizard`) is one plain line on stderr and
 * exit code 2, like the daemons; any other failure is written to stderr with exit code 1.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as CommandLine from "@llama-orch/daemon-kit/CommandLine"
import * as ProgramExit from "@llama-orch/daemon-kit/ProgramExit"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { mockEngine } from "./internal/cli.js"
import { packageVersion } from "./internal/version.js"

const name = "mock-engine"

// llama-server's format (`version: 4589 (d2fe216f)`), which engine version detection reads
const version = `version: ${packageVersion()} (mock-engine)`

CommandLine.runArgv(mockEngine, { name, version }).pipe(
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: ProgramExit.teardown(name, (cause) => `${name}: ${Cause.pretty(cause)}\n`)
  })
)
