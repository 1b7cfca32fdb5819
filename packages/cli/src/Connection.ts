/**
 * The options every command that talks to orchestratord takes: `--url URL` (or `LLAMA_ORCH_URL`,
 * default `http://127.0.0.1:8080`) and the token, from `--token-file FILE` or `LLAMA_ORCH_TOKEN`.
 *
 * @since 0.1.0
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as CommandLine from "@llama-orch/daemon-kit/CommandLine"
import { UsageError } from "@llama-orch/daemon-kit/ProgramExit"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as OrchestratorClient from "./OrchestratorClient.js"

/**
 * The environment variable the token is read from when `--token-file` is not given.
 *
 * @since 0.1.0
 */
export const tokenEnv = "LLAMA_ORCH_TOKEN"

/**
 * The environment variable `--url` defaults to.
 *
 * @since 0.1.0
 */
export const urlEnv = "LLAMA_ORCH_URL"

/**
 * Where orchestratord listens unless told otherwise (its default port).
 *
 * @since 0.1.0
 */
export const defaultUrl = "http://127.0.0.1:8080"

const url = Options.text("url").pipe(
  Options.withDescription(`orchestratord's base URL (default ${defaultUrl}, or ${urlEnv})`),
  Options.withFallbackConfig(Config.string(urlEnv)),
  Options.withDefault(defaultUrl),
  Options.mapEffect((given) => {
    const parsed = URL.canParse(given) ? new URL(given) : undefined
    return parsed !== undefined && (parsed.protocol === "http:" || parsed.protocol === "https:")
      ? Effect.succeed(given)
      : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--url must be an http(s) URL, not '${given}'`)))
  })
)

const tokenFile = CommandLine.path("token-file", "file").pipe(
  Options.withDescription(`file holding the bearer token (default: the ${tokenEnv} environment variable)`),
  Options.optional
)

/**
 * `--url URL --token-file FILE`.
 *
 * @since 0.1.0
 */
export const options: Options.Options<Flags> = Options.all({ url, tokenFile })

/**
 * What `options` parsed.
 *
 * @since 0.1.0
 */
export interface Flags {
  readonly url: string
  readonly tokenFile: Option.Option<string>
}

/**
 * The connection the flags describe: the token read from the file, else from `LLAMA_ORCH_TOKEN`
 * (an empty token is none). A file that cannot be read is a bad command line.
 *
 * @since 0.1.0
 */
export const resolve = (
  flags: Flags
): Effect.Effect<OrchestratorClient.Connection, UsageError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fromFile = yield* Option.match(flags.tokenFile, {
      onNone: () => Effect.succeed(Option.none<string>()),
      onSome: (file) =>
        Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(file)).pipe(
          Effect.map(Option.some),
          Effect.mapError((error) =>
            new UsageError({ message: `--token-file cannot read '${file}': ${error.description ?? error.message}` })
          )
        )
    })
    const token = Option.isSome(fromFile)
      ? fromFile
      : yield* Effect.orDie(Config.option(Config.string(tokenEnv)))
    return {
      url: flags.url,
      token: Option.map(Option.filter(Option.map(token, (t) => t.trim()), (t) => t !== ""), Redacted.make)
    }
  })

/**
 * Runs `self` with a client of the orchestratord the flags name.
 *
 * @since 0.1.0
 */
export const withClient = (flags: Flags) =>
<A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<
  A,
  E | UsageError,
  Exclude<R, OrchestratorClient.OrchestratorClient> | FileSystem.FileSystem | HttpClient.HttpClient
> => Effect.flatMap(resolve(flags), (connection) => Effect.provide(self, OrchestratorClient.layer(connection)))
