/**
 * Running a daemon program: JSON logs on stderr, Node's context, graceful SIGTERM/SIGINT (the main
 * fiber is interrupted, every finalizer runs, exit code 0) and exit codes that scripts can rely on.
 *
 * | exit code | when |
 * |---|---|
 * | 0 | normal end, or shutdown by SIGTERM/SIGINT |
 * | 1 | an unexpected failure (logged as a JSON line with its cause) |
 * | 2 | a start-up refusal: bad command line (unknown flag, bad value, `--wizard`: `UsageError`), invalid configuration (`ConfigError`), binding beyond loopback without a token (`BindRefused`), `allowed_origins: ["*"]` without a token (`WildcardOriginRefused`), a state directory of another user or locked by another manager (`StateDirRefused`); the reason is written to stderr as one plain line, `NAME: reason`, and nothing else |
 *
 * A daemon whose stdout or stderr is closed under it (the reader of the pipe went away) keeps
 * running and shuts down fully: what it writes from then on is dropped.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import type * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Logging from "./Logging.js"
import * as ProgramExit from "./ProgramExit.js"

/**
 * The exit code of a start-up refusal.
 *
 * @category utils
 * @since 0.1.0
 */
export const usageExitCode = ProgramExit.usageExitCode

/**
 * Whether a failure is a start-up refusal (`UsageError`, `ConfigError`, `BindRefused`,
 * `WildcardOriginRefused`, `StateDirRefused`), reported as one plain line with exit code 2.
 *
 * @category guards
 * @since 0.1.0
 */
export const isStartupRefusal = ProgramExit.isStartupRefusal

/**
 * The exit code and the text to write to stderr for the end of a daemon program.
 *
 * @category utils
 * @since 0.1.0
 */
export const exitReport = <E, A>(
  name: string,
  exit: Exit.Exit<A, E>
): { readonly code: number; readonly stderr: string | undefined } =>
  ProgramExit.exitReport(name, exit, unexpected(name))

const unexpected = (name: string) => <E>(cause: Cause.Cause<E>): string =>
  `${
    JSON.stringify({
      timestamp: new Date().toISOString(),
      level: "fatal",
      message: `${name} stopped because of an unexpected failure.`,
      cause: Cause.pretty(cause, { renderErrorCause: true })
    })
  }\n`

/**
 * Options of `run`.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunOptions {
  /** The daemon's name, prefixed to start-up refusals. */
  readonly name: string
  /** Minimum log level (default `Info`). */
  readonly logLevel?: LogLevel.LogLevel | undefined
  /** Record spans (default `false`; see `withoutTracing`). */
  readonly tracing?: boolean | undefined
}

/**
 * Runs `self` with tracing off: no span per HTTP request served (the platform's server
 * middleware) or sent (its HTTP client), nor for `Effect.withSpan`. A daemon that exports no spans
 * would otherwise build and drop them, with every request's URL and headers as attributes: about
 * a fifth of the CPU of a small request.
 *
 * @category utils
 * @since 0.1.0
 */
export const withoutTracing = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  self.pipe(
    Effect.withTracerEnabled(false),
    Effect.locally(HttpMiddleware.currentTracerDisabledWhen, () => true)
  )

/**
 * Drops output to a closed stdout or stderr instead of ending the process. Writing to a pipe whose
 * reader went away (a restarted log collector, `| head`, a test harness that stopped reading) fails
 * with `EPIPE`, which Node raises as an uncaught error: the process would end at once, without its
 * finalizers, and a daemon would leave its engines running. Other stream errors still end it.
 */
const dropOutputToClosedPipes = (): void => {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error
    })
  }
}

/**
 * Runs a daemon's main program with `NodeRuntime.runMain` (pretty logger and default error
 * reporting disabled), the JSON-lines logger, `NodeContext`, the exit codes above, and tracing
 * off unless `tracing` is set. A closed stdout or stderr does not end it: its output is dropped
 * and it runs (and shuts down) as usual.
 *
 * @category utils
 * @since 0.1.0
 */
export const run = <A, E>(
  program: Effect.Effect<A, E, NodeContext.NodeContext>,
  options: RunOptions
): void => {
  dropOutputToClosedPipes()
  return NodeRuntime.runMain(
    (options.tracing === true ? program : withoutTracing(program)).pipe(
      Effect.provide(Layer.merge(NodeContext.layer, Logging.layer({ level: options.logLevel }))),
      // the teardown reports how the program ended; the runtime would add a debug line with a stack
      (self) => Effect.zipRight(FiberRef.set(FiberRef.unhandledErrorLogLevel, Option.none()), self)
    ),
    {
      disablePrettyLogger: true,
      disableErrorReporting: true,
      teardown: ProgramExit.teardown(options.name, unexpected(options.name))
    }
  )
}
