/**
 * The `llama-orch` command tree and how the program ends:
 *
 * | exit code | when |
 * |---|---|
 * | 0 | the operation succeeded (a live view ended with `q`) |
 * | 1 | the operation failed: orchestratord refused it or is unreachable, a task failed, a drain did not finish, a configuration file is invalid |
 * | 2 | a bad command line (unknown command or flag, bad value, unreadable `--token-file`) |
 * | 130 | interrupted by Ctrl-C (a task being streamed is cancelled first) |
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as ProgramExit from "@llama-orch/daemon-kit/ProgramExit"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as ConfigCommand from "./ConfigCommand.js"
import * as ModelsCommand from "./ModelsCommand.js"
import * as PoolsCommand from "./PoolsCommand.js"
import * as TasksCommand from "./TasksCommand.js"
import * as TopCommand from "./TopCommand.js"

/**
 * The program's name, prefixed to its error lines.
 *
 * @since 0.1.0
 */
export const name = "llama-orch"

/**
 * The exit code after Ctrl-C.
 *
 * @since 0.1.0
 */
export const interruptedExitCode = 130

/**
 * `llama-orch tasks|pools|models|top|config`.
 *
 * @since 0.1.0
 */
export const command = Command.make(name).pipe(
  Command.withDescription("Operate llama-orch: tasks, pools, models, a live view, configuration checks"),
  Command.withSubcommands([
    TasksCommand.command,
    PoolsCommand.command,
    ModelsCommand.command,
    TopCommand.command,
    ConfigCommand.command
  ])
)

/** A failure as one line: the error's message, else the cause rendered. */
const failureLine = <E>(cause: Cause.Cause<E>): string => {
  const error = Option.getOrUndefined(Cause.failureOption(cause))
  const message = Predicate.hasProperty(error, "message") && typeof error.message === "string"
    ? error.message
    : Cause.pretty(cause)
  return `${name}: ${ProgramExit.oneLine(message)}\n`
}

/**
 * The teardown of `NodeRuntime.runMain`: the exit codes above, the failure on stderr as one line.
 *
 * @since 0.1.0
 */
export const teardown = <A, E>(exit: Exit.Exit<A, E>, onExit: (code: number) => void): void => {
  if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) return onExit(interruptedExitCode)
  const report = ProgramExit.exitReport(name, exit, failureLine)
  if (report.stderr === undefined) return onExit(report.code)
  process.stderr.write(report.stderr, () => onExit(report.code))
}
