#!/usr/bin/env node
/**
 * `orchestratord [--config FILE] [--host H] [--port N] [--log-level LEVEL]`: the llama-orch
 * orchestrator daemon.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import {
  BindSafety,
  CommandLine,
  ConfigFile as ConfigFiles,
  DaemonMain,
  RequestGuard,
  Secret
} from "@llama-orch/daemon-kit"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { ConfigFile, defaults } from "./Config.js"
import * as Daemon from "./Daemon.js"

const orchestratord = Command.make(
  "orchestratord",
  {
    config: CommandLine.config,
    host: CommandLine.host(defaults.host),
    port: CommandLine.port(defaults.port)
  },
  (flags) =>
    Effect.gen(function*() {
      const source = Option.getOrElse(flags.config, () => "the built-in defaults")
      const config = Option.isSome(flags.config)
        ? yield* ConfigFiles.loadYamlFile(ConfigFile, flags.config.value)
        : yield* ConfigFiles.decodeConfig(ConfigFile, {}, source)
      const token = yield* Secret.resolveSecret({
        key: "token",
        env: defaults.tokenEnv,
        credential: defaults.tokenCredential,
        value: config.token,
        file: config.token_file,
        source
      })
      const poolManagerToken = config.pool_manager === undefined
        ? Option.none()
        : yield* Secret.resolveSecret({
          key: "pool_manager.token",
          env: defaults.poolManagerTokenEnv,
          credential: defaults.poolManagerTokenCredential,
          value: config.pool_manager.token,
          file: config.pool_manager.token_file,
          source
        })
      const host = CommandLine.override(config.host ?? defaults.host, flags.host)
      const port = CommandLine.override(config.port ?? defaults.port, flags.port)
      const tokenHint = `token, token_file, ${defaults.tokenEnv} or the ${defaults.tokenCredential} credential`
      yield* BindSafety.ensureBindAllowed(host, token, tokenHint)
      yield* RequestGuard.ensureOriginsAllowed(config.allowed_origins, token, tokenHint)
      const starting = Effect.logInfo(
        config.pool_manager === undefined
          ? "Starting orchestratord with embedded pools."
          : "Starting orchestratord against a remote pool manager."
      ).pipe(Effect.annotateLogs({ pool_manager: config.pool_manager?.url ?? "embedded" }))
      const daemon = Layer.launch(
        Daemon.layer({
          host,
          port,
          token: Option.getOrUndefined(token),
          poolManagerToken: Option.getOrUndefined(poolManagerToken),
          config,
          source
        })
      )
      // --log-level, else the file's log level, applies from here on
      return yield* Effect.zipRight(starting, daemon).pipe(CommandLine.withLogLevel(config.log_level))
    })
).pipe(Command.withDescription("The llama-orch orchestrator: admission queues, token streaming and the HTTP API."))

const version = CommandLine.packageVersion(import.meta.url, "@llama-orch/orchestratord")

DaemonMain.run(CommandLine.runArgv(orchestratord, { name: "orchestratord", version }), { name: "orchestratord" })
