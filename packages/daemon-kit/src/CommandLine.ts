/**
 * Command-line options every daemon shares (`--config FILE`, `--host H`, `--port N`), built on
 * `@effect/cli`, and the rule that flags override the configuration file.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Option from "effect/Option"

/**
 * `--config FILE`: the YAML configuration file (optional).
 *
 * @since 0.1.0
 */
export const config: Options.Options<Option.Option<string>> = Options.file("config", { exists: "either" }).pipe(
  Options.withDescription("YAML configuration file; command-line flags override its values"),
  Options.optional
)

/**
 * `--host H`: the address to listen on (optional; overrides `host` in the file).
 *
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
 * `--port N`: the TCP port to listen on, `0` for one the system picks (optional; overrides `port`).
 *
 * @since 0.1.0
 */
export const port = (defaultPort: number): Options.Options<Option.Option<number>> =>
  Options.integer("port").pipe(
    Options.withDescription(`TCP port to listen on (default ${defaultPort}); 0 lets the system pick a free port`),
    Options.optional
  )

/**
 * The shared options as one record: `{ config, host, port }`.
 *
 * @since 0.1.0
 */
export const listenOptions = (defaults: { readonly host: string; readonly port: number }) =>
  Options.all({ config, host: host(defaults.host), port: port(defaults.port) })

/**
 * A flag overrides the file's value when it is given.
 *
 * @since 0.1.0
 */
export const override = <A>(fromFile: A, flag: Option.Option<A>): A => Option.getOrElse(flag, () => fromFile)

/**
 * Runs a command on `process.argv`, with `--help`, `--version` and completions from `@effect/cli`.
 *
 * @since 0.1.0
 */
export const runArgv = <Name extends string, R, E, A>(
  command: Command.Command<Name, R, E, A>,
  info: { readonly name: string; readonly version: string }
) => Command.run(command, info)(process.argv)
