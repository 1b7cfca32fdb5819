#!/usr/bin/env node
/**
 * The `pool-managerd` command: `pool-managerd [--config FILE] [--host H] [--port N] [--state-dir DIR]
 * [--engine-host H] [--log-level LEVEL]`; `--check-config FILE` validates a configuration file and exits.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { CommandLine, DaemonMain } from "@llama-orch/daemon-kit"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Config from "./Config.js"
import * as Daemon from "./Daemon.js"
import { version } from "./version.js"

const stateDir = CommandLine.path("state-dir", "directory").pipe(
  Options.withDescription(
    `directory for pidfiles and handoff files (default ${Config.defaults.stateDir}); one daemon per directory`
  ),
  Options.optional
)

const engineHost = Options.text("engine-host").pipe(
  Options.withDescription(
    "address the engines bind to and leases hand out (overrides engine_host; default 127.0.0.1), e.g. the pod IP"
  ),
  Options.optional
)

const command = Command.make(
  "pool-managerd",
  { listen: CommandLine.listenOptions(Config.defaults), stateDir, engineHost, check: CommandLine.checkConfig },
  ({ check, engineHost, listen, stateDir }) =>
    Effect.gen(function*() {
      const settings = yield* Config.load(
        Option.orElse(check, () => listen.config),
        { host: listen.host, port: listen.port, stateDir, engineHost },
        version
      )
      if (Option.isSome(check)) return yield* CommandLine.configValid(check.value)
      // --log-level, else the file's log level, applies from here on
      return yield* Layer.launch(Daemon.layer(settings)).pipe(CommandLine.withLogLevel(settings.logLevel))
    })
).pipe(Command.withDescription("Runs local LLM engines as pools and serves the PoolManager RPC."))

DaemonMain.run(CommandLine.runArgv(command, { name: "pool-managerd", version }), { name: "pool-managerd" })
