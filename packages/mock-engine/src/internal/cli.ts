/**
 * The `mock-engine` command line.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as CommandLine from "@llama-orch/daemon-kit/CommandLine"
import * as Config from "effect/Config"
import * as Option from "effect/Option"
import { defaultSettings } from "./config.js"
import { runEngine } from "./server.js"

const count = (name: string, min: number, description: string, fallback: number) =>
  CommandLine.integer(name, { min }).pipe(
    Options.withDefault(fallback),
    Options.withDescription(description)
  )

const flag = (name: string, description: string) => Options.boolean(name).pipe(Options.withDescription(description))

const options = {
  port: CommandLine.portNumber("port").pipe(
    Options.withDescription("TCP port to listen on; 0 lets the OS pick one (the real port is printed).")
  ),
  host: Options.text("host").pipe(
    Options.withDefault(defaultSettings.host),
    Options.withDescription("Address to listen on.")
  ),
  model: Options.text("model").pipe(
    Options.withDefault(defaultSettings.model),
    Options.withDescription("Model name reported by /props, /v1/models and completions.")
  ),
  slots: count("slots", 1, "Generations that run at once; more requests wait in FIFO order.", defaultSettings.slots),
  ctx: count("ctx", 1, "Context size in tokens (prompt + generated).", defaultSettings.ctx),
  tps: count("tps", 0, "Tokens per second per generation; 0 = as fast as possible.", defaultSettings.tps),
  loadMs: count("load-ms", 0, "Pretend to load the model this long: /health answers 503 meanwhile.", 0),
  crashOnStart: flag(
    "crash-on-start",
    "Print a model-load error to stderr and exit with --exit-code before listening."
  ),
  crashDuringLoad: flag(
    "crash-during-load",
    "Listen, answer /health 503 while loading, then print a model-load error and exit with --exit-code halfway through --load-ms."
  ),
  crashAfterTokens: CommandLine.integer("crash-after-tokens", { min: 0 }).pipe(
    Options.optional,
    Options.withDescription("Exit abruptly with --exit-code right after the N-th token emitted in total.")
  ),
  embeddings: flag("embeddings", "Serve /v1/embeddings (deterministic unit vectors), as llama-server's --embeddings."),
  footprintMb: CommandLine.integer("footprint-mb", { min: 0 }).pipe(
    Options.optional,
    Options.withDescription(
      "Claim to use N MiB of device memory: /health reports it as footprint_mb, where a pool manager " +
        "learns it as it would from nvidia-smi."
    )
  ),
  hangHealth: flag("hang-health", "/health never answers (the request stays open)."),
  ignoreSigterm: flag("ignore-sigterm", "Log SIGTERM and keep running (SIGKILL still works)."),
  apiKey: Options.redacted("api-key").pipe(
    Options.withFallbackConfig(Config.redacted("LLAMA_API_KEY")),
    Options.optional,
    Options.withDescription(
      "Require `Authorization: Bearer KEY` on every route but /health (env LLAMA_API_KEY, as llama-server)."
    )
  ),
  exitCode: CommandLine.integer("exit-code", { min: 0, max: 255 }).pipe(
    Options.withDefault(defaultSettings.exitCode),
    Options.withDescription("Exit code for --crash-on-start and --crash-after-tokens.")
  )
}

/** `mock-engine --port N [...]`: runs a fake llama-server until SIGTERM/SIGINT. */
export const mockEngine = Command.make("mock-engine", options, (parsed) =>
  runEngine({
    ...parsed,
    crashAfterTokens: parsed.crashAfterTokens.pipe(Option.filter((n) => n >= 0))
  })).pipe(
    Command.withDescription(
      "A fake LLM inference engine speaking llama-server's and the OpenAI HTTP protocols, with fault injection. " +
        "Prints `listening on http://HOST:PORT` on stdout once it accepts connections."
    )
  )
