#!/usr/bin/env node
/**
 * `orchestratord [--config FILE] [--host H] [--port N] [--log-level LEVEL]`: the llama-orch
 * orchestrator daemon. `--check-config FILE` validates a configuration file and exits.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import { CommandLine, DaemonMain } from "@llama-orch/daemon-kit"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Config from "./Config.js"
import * as Daemon from "./Daemon.js"

const orchestratord = Command.make(
  "orchestratord",
  { listen: CommandLine.listenOptions(Config.defaults), check: CommandLine.checkConfig },
  ({ check, listen }) =>
    Effect.gen(function*() {
      const file = Option.orElse(check, () => listen.config)
      const settings = yield* Config.load(file, { host: listen.host, port: listen.port })
      if (Option.isSome(check)) return yield* CommandLine.configValid(check.value)
      // --log-level, else the file's log level, applies from here on
      return yield* Layer.launch(Daemon.layer(settings)).pipe(CommandLine.withLogLevel(settings.logLevel))
    })
).pipe(Command.withDescription("The llama-orch orchestrator: admission queues, token streaming and the HTTP API."))

const version = CommandLine.packageVersion(import.meta.url, "@llama-orch/orchestratord")

DaemonMain.run(CommandLine.runArgv(orchestratord, { name: "orchestratord", version }), { name: "orchestratord" })
