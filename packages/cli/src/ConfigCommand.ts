/**
 * `llama-orch config check FILE [--daemon orchestratord|pool-managerd]`: validates a daemon's
 * configuration file without starting anything, by running that daemon's own `--check-config`, so
 * the messages are the daemon's. The daemon is the installed package next to this one, else the
 * executable of that name on `PATH`.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as PlatformCommand from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { OperationFailed } from "./CliError.js"

/**
 * The daemons whose configuration files can be checked.
 *
 * @since 0.1.0
 */
export const daemons = ["orchestratord", "pool-managerd"] as const

/**
 * @since 0.1.0
 */
export type Daemon = (typeof daemons)[number]

const Manifest = Schema.parseJson(Schema.Struct({ bin: Schema.Record({ key: Schema.String, value: Schema.String }) }))

/** The daemon's bin in its installed package, when this package can resolve it. */
const installedBin = (daemon: Daemon): Option.Option<string> =>
  Either.try(() => createRequire(import.meta.url).resolve(`@llama-orch/${daemon}/package.json`)).pipe(
    Either.flatMap((file) =>
      Either.map(
        Schema.decodeUnknownEither(Manifest)(fs.readFileSync(file, "utf8")),
        (manifest) => ({ file, manifest })
      )
    ),
    Either.getRight,
    Option.flatMap(({ file, manifest }) =>
      Option.map(Option.fromNullable(manifest.bin[daemon]), (bin) => path.resolve(path.dirname(file), bin))
    )
  )

/** The executable `name` on `PATH`, if any. */
const onPath = (name: string): Option.Option<string> =>
  Option.fromNullable(
    (process.env["PATH"] ?? "").split(path.delimiter).filter((dir) => dir !== "").map((dir) => path.join(dir, name))
      .find((file) => Either.isRight(Either.try(() => fs.accessSync(file, fs.constants.X_OK))))
  )

/**
 * How to run the daemon: `node BIN` for the installed package, else its executable on `PATH`.
 *
 * @since 0.1.0
 */
export const daemonCommand = (daemon: Daemon): Option.Option<ReadonlyArray<string>> =>
  Option.orElse(
    Option.map(installedBin(daemon), (bin) => [process.execPath, bin]),
    () => Option.map(onPath(daemon), (file) => [file])
  )

const collect = (stream: Stream.Stream<Uint8Array, unknown>) =>
  stream.pipe(Stream.decodeText(), Stream.mkString, Effect.orElseSucceed(() => ""))

/**
 * Runs `daemon --check-config FILE`: its line on stdout when the file is valid, otherwise
 * `OperationFailed` with the daemon's own message.
 *
 * @since 0.1.0
 */
export const check = (
  daemon: Daemon,
  file: string
): Effect.Effect<void, OperationFailed, CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    const argv = yield* Option.match(daemonCommand(daemon), {
      onNone: () =>
        new OperationFailed({
          detail:
            `${daemon} is not installed: install @llama-orch/${daemon} (or put ${daemon} on PATH) to check its configuration`
        }),
      onSome: Effect.succeed
    })
    const [command = daemon, ...args] = argv
    const result = yield* Effect.scoped(Effect.gen(function*() {
      const proc = yield* PlatformCommand.start(
        PlatformCommand.make(command, ...args, "--check-config", file).pipe(PlatformCommand.stdin("inherit"))
      )
      const [stdout, stderr, code] = yield* Effect.all([collect(proc.stdout), collect(proc.stderr), proc.exitCode], {
        concurrency: "unbounded"
      })
      return { stdout, stderr, code }
    })).pipe(Effect.mapError((error) => new OperationFailed({ detail: `cannot run ${daemon}: ${error.message}` })))
    if (result.code === 0) return yield* Console.log(result.stdout.trimEnd())
    return yield* new OperationFailed({
      detail: result.stderr.trim() === "" ? `${daemon} exited with code ${result.code}` : result.stderr.trim()
    })
  })

const checkCommand = Command.make(
  "check",
  {
    file: Args.file({ name: "FILE" }).pipe(Args.withDescription("the YAML configuration file")),
    daemon: Options.choice("daemon", daemons).pipe(
      Options.withDescription("whose configuration it is"),
      Options.withDefault("orchestratord" as const)
    )
  },
  ({ daemon, file }) => check(daemon, file)
).pipe(Command.withDescription("Validate a daemon's configuration file without starting anything"))

/**
 * `llama-orch config …`.
 *
 * @since 0.1.0
 */
export const command = Command.make("config").pipe(
  Command.withDescription("Daemon configuration: check"),
  Command.withSubcommands([checkCommand])
)
