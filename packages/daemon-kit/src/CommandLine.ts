/**
 * Command-line options every daemon shares (`--config FILE`, `--host H`, `--port N`), built on
 * `@effect/cli`, the rule that flags override the configuration file, and the conventions of every
 * llama-orch executable:
 *
 * - a bad command line (unknown flag, bad value, `--port 70000`) is one plain line on stderr,
 *   `NAME: problem`, and exit code 2 (see `ProgramExit`);
 * - `--log-level LEVEL` is accepted anywhere on the line and wins over the configuration file;
 * - `--wizard` (the interactive mode `@effect/cli` adds) is refused: these programs run unattended;
 * - no colour when the output is not a terminal or `NO_COLOR` is set (https://no-color.org);
 * - `--version` prints the package's own version (`packageVersion`).
 *
 * This module loads nothing beyond `effect`, `@effect/cli` and `@effect/platform`, so an engine
 * process can use it (`@llama-orch/daemon-kit/CommandLine`) without the daemons' plumbing.
 *
 * @module @llama-orch/daemon-kit/CommandLine
 * @since 0.1.0
 */
import type * as CliApp from "@effect/cli/CliApp"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as nodeFs from "node:fs"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import { format } from "node:util"
import { colourAllowed, oneLine, stripAnsi, UsageError } from "./ProgramExit.js"

/**
 * A path flag (`--NAME PATH`) that need not exist yet but, when it does, must be a `kind` (a file
 * or a directory). A path that cannot be looked at (a file in the middle, no permission) is
 * refused as a bad command line naming the flag, not a crash.
 *
 * @category utils
 * @since 0.1.0
 */
export const path = (name: string, kind: "file" | "directory"): Options.Options<string> =>
  Options.text(name).pipe(
    Options.withPseudoName(kind === "file" ? "FILE" : "DIR"),
    Options.mapEffect((given) =>
      Effect.flatMap(FileSystem.FileSystem, (fs) => fs.stat(given)).pipe(
        Effect.flatMap((info) =>
          info.type === (kind === "file" ? "File" : "Directory")
            ? Effect.succeed(given)
            : Effect.fail(`it is not a ${kind}`)
        ),
        Effect.catchTag("SystemError", (error) =>
          error.reason === "NotFound"
            ? Effect.succeed(given)
            : Effect.fail(error.description ?? error.reason)),
        Effect.catchTag("BadArgument", (error) => Effect.fail(error.description ?? "a bad path")),
        Effect.mapError((reason) =>
          ValidationError.invalidValue(HelpDoc.p(`--${name} cannot be '${given}': ${oneLine(reason)}`))
        )
      )
    )
  )

/**
 * `--config FILE`: the YAML configuration file (optional).
 *
 * @category utils
 * @since 0.1.0
 */
export const config: Options.Options<Option.Option<string>> = path("config", "file").pipe(
  Options.withDescription("YAML configuration file; command-line flags override its values"),
  Options.optional
)

/**
 * `--check-config FILE`: validate the configuration file (with the other flags given) and exit
 * without starting anything: exit code 0 and `configValid`'s line when it is valid, otherwise the
 * daemon's own start-up refusal (one line `NAME: invalid configuration in FILE: …`, exit code 2).
 *
 * @category utils
 * @since 0.1.0
 */
export const checkConfig: Options.Options<Option.Option<string>> = path("check-config", "file").pipe(
  Options.withDescription("validate this configuration file and exit without starting anything"),
  Options.optional
)

/**
 * What `--check-config FILE` prints on stdout when the file is valid: `FILE: valid configuration`.
 *
 * @category utils
 * @since 0.1.0
 */
export const configValid = (file: string): Effect.Effect<void> => Console.log(`${file}: valid configuration`)

/**
 * `--host H`: the address to listen on (optional; overrides `host` in the file).
 *
 * @category utils
 * @since 0.1.0
 */
export const host = (defaultHost: string): Options.Options<Option.Option<string>> =>
  Options.text("host").pipe(
    Options.withDescription(
      `address to listen on (default ${defaultHost}); anything beyond loopback requires a token`
    ),
    Options.optional
  )

/**
 * An integer flag (`--NAME N`) from `min` to `max` (default: no upper bound). Anything else is
 * refused with a message naming the flag, the range and the value, e.g.
 * `--slots must be an integer from 1 up, not '0'`.
 *
 * @category utils
 * @since 0.1.0
 */
export const integer = (
  name: string,
  range: { readonly min: number; readonly max?: number | undefined; readonly what?: string | undefined }
): Options.Options<number> =>
  Options.text(name).pipe(
    Options.withPseudoName("N"),
    Options.mapEffect((text) => {
      const n = /^-?\d{1,15}$/.test(text.trim()) ? Number(text) : Number.NaN
      if (Number.isSafeInteger(n) && n >= range.min && n <= (range.max ?? Number.MAX_SAFE_INTEGER)) {
        return Effect.succeed(n)
      }
      const bounds = range.max === undefined ? `from ${range.min} up` : `from ${range.min} to ${range.max}`
      const what = range.what ?? "an integer"
      return Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--${name} must be ${what} ${bounds}, not '${text}'`)))
    })
  )

/**
 * A TCP port flag (`--NAME N`, `0` to `65535`): anything else is refused with a message naming the
 * flag and the value, e.g. `--port must be a port number from 0 to 65535, not '70000'`.
 *
 * @category utils
 * @since 0.1.0
 */
export const portNumber = (name: string): Options.Options<number> =>
  integer(name, { min: 0, max: 65535, what: "a port number" })

/**
 * `--port N`: the TCP port to listen on, `0` for one the system picks (optional; overrides `port`).
 *
 * @category utils
 * @since 0.1.0
 */
export const port = (defaultPort: number): Options.Options<Option.Option<number>> =>
  portNumber("port").pipe(
    Options.withDescription(`TCP port to listen on (default ${defaultPort}); 0 lets the system pick a free port`),
    Options.optional
  )

/**
 * The shared options as one record: `{ config, host, port }`.
 *
 * @category utils
 * @since 0.1.0
 */
export const listenOptions = (defaults: { readonly host: string; readonly port: number }) =>
  Options.all({ config, host: host(defaults.host), port: port(defaults.port) })

/**
 * A flag overrides the file's value when it is given.
 *
 * @category utils
 * @since 0.1.0
 */
export const override = <A>(fromFile: A, flag: Option.Option<A>): A => Option.getOrElse(flag, () => fromFile)

/**
 * The console `@effect/cli` writes through (help, version, errors): its errors become one plain
 * line `NAME: problem` on stderr, and colours are removed from the rest unless stdout may be
 * coloured (`colourAllowed`).
 *
 * @category utils
 * @since 0.1.0
 */
export const cliConsole = (name: string, base: Console.Console): Console.Console => ({
  ...base,
  log: (...args) =>
    Effect.sync(() => {
      const text = format(...args).replace(/\n+$/, "")
      process.stdout.write(`${colourAllowed(process.stdout) ? text : stripAnsi(text)}\n`)
    }),
  error: (...args) =>
    Effect.sync(() => {
      const text = oneLine(format(...args))
      if (text !== "") process.stderr.write(`${name}: ${text}\n`)
    })
})

/**
 * The names `--log-level` accepts (as `@effect/cli`'s own flag): `all`, `fatal`, `error`,
 * `warning`, `info`, `debug`, `trace`, `none`.
 *
 * @category models
 * @since 0.1.0
 */
export type LogLevelName = Lowercase<LogLevel.LogLevel["_tag"]>

const logLevels: ReadonlyMap<string, LogLevel.LogLevel> = new Map(
  LogLevel.allLevels.map((level) => [level._tag.toLowerCase(), level])
)

/**
 * The `--log-level` given on the command line, if any (provided by `runArgv`).
 *
 * @example
 * ```ts
 * import { CommandLine } from "@llama-orch/daemon-kit"
 * import { Console, Effect, Option } from "effect"
 *
 * // what `--log-level` said, if anything (`runArgv` provides it; the default is none)
 * const program = Effect.gen(function*() {
 *   const flag = yield* CommandLine.LogLevelFlag
 *   yield* Console.log(Option.match(flag, { onNone: () => "no --log-level", onSome: (level) => level.label }))
 * })
 *
 * Effect.runPromise(program)
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class LogLevelFlag extends Context.Reference<LogLevelFlag>()("@llama-orch/daemon-kit/CommandLine/LogLevelFlag", {
  defaultValue: (): Option.Option<LogLevel.LogLevel> => Option.none()
}) {}

/**
 * The arguments left for `@effect/cli` once the conventions are applied, and the `--log-level`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Conventions {
  readonly args: ReadonlyArray<string>
  readonly logLevel: Option.Option<LogLevel.LogLevel>
}

const flagName = (arg: string): string => arg.split("=", 1)[0]!.toLowerCase()

/**
 * Applies the conventions to the arguments after the executable: takes out every
 * `--log-level LEVEL` / `--log-level=LEVEL`, wherever it is (the last one wins), and refuses
 * `--wizard`. Arguments after `--` are left alone.
 *
 * @category utils
 * @since 0.1.0
 */
export const applyConventions = (args: ReadonlyArray<string>): Either.Either<Conventions, UsageError> => {
  const rest: Array<string> = []
  let logLevel: Option.Option<LogLevel.LogLevel> = Option.none()
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") {
      rest.push(...args.slice(i))
      break
    }
    const flag = flagName(arg)
    if (flag === "--wizard") {
      return Either.left(
        new UsageError({ message: "--wizard is not available: give the flags on the command line (see --help)" })
      )
    }
    if (flag !== "--log-level") {
      rest.push(arg)
      continue
    }
    const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : args[++i]
    const level = value === undefined ? undefined : logLevels.get(value.toLowerCase())
    if (level === undefined) {
      const names = [...logLevels.keys()].join(", ")
      return Either.left(
        new UsageError({
          message: value === undefined
            ? `--log-level needs a value: one of ${names}`
            : `--log-level must be one of ${names}, not '${value}'`
        })
      )
    }
    logLevel = Option.some(level)
  }
  return Either.right({ args: rest, logLevel })
}

/**
 * Runs `self` with the minimum log level of the command line's `--log-level`, else of the
 * configuration file (`fromConfig`), else unchanged; says which at debug level.
 *
 * @category utils
 * @since 0.1.0
 */
export const withLogLevel = (fromConfig: LogLevelName | undefined) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.flatMap(LogLevelFlag, (flag) => {
    const fromFile = fromConfig === undefined ? undefined : logLevels.get(fromConfig)
    const [level, source] = Option.isSome(flag)
      ? [flag.value, "the command line"]
      : fromFile === undefined
      ? [undefined, undefined]
      : [fromFile, "the configuration file"]
    if (level === undefined) return self
    return Effect.logDebug(`Log level ${level.label.toLowerCase()}, from ${source}.`).pipe(
      Effect.zipRight(self),
      Logger.withMinimumLogLevel(level)
    )
  })

/**
 * Runs a command on `argv` (default `process.argv`) with `--help`, `--version` and completions from
 * `@effect/cli` and the conventions above: `--log-level` anywhere (read it with `withLogLevel`),
 * no `--wizard` (`UsageError`), one plain line per command-line error, no colour unless stdout is
 * a terminal and `NO_COLOR` is unset. The command's own handler writes through the console it was
 * given.
 *
 * @category utils
 * @since 0.1.0
 */
export const runArgv = <Name extends string, R, E, A>(
  command: Command.Command<Name, R, E, A>,
  info: { readonly name: string; readonly version: string },
  argv: ReadonlyArray<string> = process.argv
): Effect.Effect<void, E | ValidationError.ValidationError | UsageError, R | CliApp.CliApp.Environment> =>
  Effect.consoleWith((
    console
  ): Effect.Effect<void, E | ValidationError.ValidationError | UsageError, R | CliApp.CliApp.Environment> => {
    const conventions = applyConventions(argv.slice(2))
    if (Either.isLeft(conventions)) return Effect.fail(conventions.left)
    const { args, logLevel } = conventions.right
    const handled = Command.transformHandler(command, (handler) => Effect.withConsole(handler, console))
    const run = Command.run(handled, info)([...argv.slice(0, 2), ...args]).pipe(
      Effect.withConsole(cliConsole(info.name, console))
    )
    return Option.isNone(logLevel)
      ? run
      : run.pipe(Logger.withMinimumLogLevel(logLevel.value), Effect.provideService(LogLevelFlag, logLevel))
  })

const PackageManifest = Schema.parseJson(Schema.Struct({ name: Schema.String, version: Schema.String }))
const decodeManifest = Schema.decodeUnknownEither(PackageManifest)

/**
 * The version in the `package.json` of the package `packageName`, found by walking up from the
 * module at `moduleUrl` (works from `src`, `dist` and bundles inside the package); `0.0.0` when
 * there is none.
 *
 * @category utils
 * @since 0.1.0
 */
export const packageVersion = (moduleUrl: string, packageName: string): string => {
  for (let dir = nodePath.dirname(fileURLToPath(moduleUrl));; dir = nodePath.dirname(dir)) {
    const file = nodePath.join(dir, "package.json")
    const manifest = nodeFs.existsSync(file) ? decodeManifest(nodeFs.readFileSync(file, "utf8")) : undefined
    if (manifest !== undefined && Either.isRight(manifest) && manifest.right.name === packageName) {
      return manifest.right.version
    }
    if (nodePath.dirname(dir) === dir) return "0.0.0"
  }
}
