#!/usr/bin/env node
/**
 * The `llama-orch` executable: the operator's command line for orchestratord.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as CommandLine from "@llama-orch/daemon-kit/CommandLine"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Cli from "./Cli.js"

// a reader that stops early (`| head`) ends the output, not the program with a stack trace
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0)
})

const version = CommandLine.packageVersion(import.meta.url, "@llama-orch/cli")

CommandLine.runArgv(Cli.command, { name: Cli.name, version }).pipe(
  Effect.provide(Layer.merge(NodeContext.layer, NodeHttpClient.layerUndici)),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown: Cli.teardown })
)
