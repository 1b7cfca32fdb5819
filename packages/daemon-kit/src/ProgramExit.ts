/**
 * How a llama-orch program's end is reported, the same for the daemons and the mock engine:
 *
 * | exit code | when |
 * |---|---|
 * | 0 | normal end, or shutdown by SIGTERM/SIGINT |
 * | 1 | an unexpected failure (reported as the program chooses) |
 * | 2 | a bad command line or another start-up refusal: one plain line on stderr, `NAME: reason` |
 *
 * and the plain-text rules of that output: one line, no ANSI colour unless the stream is a
 * terminal and `NO_COLOR` is unset (https://no-color.org). Loads nothing beyond `effect` and
 * `@effect/cli` (`@llama-orch/daemon-kit/ProgramExit`).
 *
 * @module @llama-orch/daemon-kit/ProgramExit
 * @since 0.1.0
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * The command line asks for something this program does not do (`--wizard`, a bad `--log-level`).
 * A start-up refusal: `NAME: message` on stderr, exit code 2.
 *
 * @category errors
 * @since 0.1.0
 */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { message: Schema.String }) {}

/**
 * The exit code of a bad command line or another start-up refusal.
 *
 * @category constants
 * @since 0.1.0
 */
export const usageExitCode = 2

const startupTags = new Set(["UsageError", "ConfigError", "BindRefused", "WildcardOriginRefused", "StateDirRefused"])

/**
 * Whether a failure is a start-up refusal (`UsageError`, `ConfigError`, `BindRefused`,
 * `WildcardOriginRefused`, `StateDirRefused`): reported as one plain line, exit code 2.
 *
 * @category guards
 * @since 0.1.0
 */
export const isStartupRefusal = (error: unknown): error is { readonly _tag: string; readonly message: string } =>
  Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" && startupTags.has(error._tag) &&
  Predicate.hasProperty(error, "message") && typeof error.message === "string"

const ansiEscape = new RegExp("\\u001b\\[[0-9;?]*[ -/]*[@-~]", "g")

/**
 * The text without ANSI escape sequences (colours, bold, …).
 *
 * @category utils
 * @since 0.1.0
 */
export const stripAnsi = (text: string): string => text.replace(ansiEscape, "")

/**
 * A message as one line: its non-empty lines, trimmed, joined — after a line ending in `:` with a
 * space, otherwise with `; ` (`invalid configuration in f.yaml:\n  port: …\n  host: …` reads
 * `invalid configuration in f.yaml: port: …; host: …`). ANSI escapes are removed.
 *
 * @category utils
 * @since 0.1.0
 */
export const oneLine = (message: string): string =>
  stripAnsi(message).split("\n").map((line) => line.trim()).filter((line) => line !== "").reduce(
    (joined, line) => joined === "" ? line : `${joined}${joined.endsWith(":") ? " " : "; "}${line}`,
    ""
  )

/**
 * The exit code and stderr text (`undefined`: already written) when a program ends with a bad
 * command line or another start-up refusal; `None` for any other failure.
 *
 * @category utils
 * @since 0.1.0
 */
export const refusalReport = (
  name: string,
  error: unknown
): Option.Option<{ readonly code: number; readonly stderr: string | undefined }> => {
  // @effect/cli has written its one line already (see `CommandLine.runArgv`)
  if (ValidationError.isValidationError(error)) return Option.some({ code: usageExitCode, stderr: undefined })
  if (isStartupRefusal(error)) {
    return Option.some({ code: usageExitCode, stderr: `${name}: ${oneLine(error.message)}\n` })
  }
  return Option.none()
}

/**
 * The exit code and stderr text (`undefined`: nothing more to write) at the end of a program: `0`
 * for success or interruption (SIGTERM/SIGINT), `2` for a bad command line or another start-up
 * refusal (`refusalReport`), otherwise `1` with the text `unexpected` makes of the cause.
 *
 * @category utils
 * @since 0.1.0
 */
export const exitReport = <A, E>(
  name: string,
  exit: Exit.Exit<A, E>,
  unexpected: (cause: Cause.Cause<E>) => string
): { readonly code: number; readonly stderr: string | undefined } => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return { code: 0, stderr: undefined }
  const refusal = Option.flatMap(Cause.failureOption(exit.cause), (error) => refusalReport(name, error))
  return Option.getOrElse(refusal, () => ({ code: 1, stderr: unexpected(exit.cause) }))
}

/**
 * A `teardown` for `NodeRuntime.runMain`: writes what `exitReport` says to stderr, then exits with
 * its code.
 *
 * @category utils
 * @since 0.1.0
 */
export const teardown =
  <E>(name: string, unexpected: (cause: Cause.Cause<E>) => string) =>
  <A>(exit: Exit.Exit<A, E>, onExit: (code: number) => void): void => {
    const report = exitReport(name, exit, unexpected)
    if (report.stderr === undefined) return onExit(report.code)
    process.stderr.write(report.stderr, () => onExit(report.code))
  }

/**
 * Whether a stream may be coloured: it is a terminal and `NO_COLOR` is unset or empty.
 *
 * @category utils
 * @since 0.1.0
 */
export const colourAllowed = (stream: { readonly isTTY?: boolean | undefined }): boolean =>
  stream.isTTY === true && (process.env["NO_COLOR"] ?? "") === ""
