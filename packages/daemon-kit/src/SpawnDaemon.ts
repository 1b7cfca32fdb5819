/**
 * A test helper: start a daemon's entry point as a real process — an installed package's bin
 * (`.js`, run by plain `node`) or a workspace TypeScript source (`.ts`: bundled once with esbuild
 * when it is installed and run by plain `node`, otherwise run through `tsx`) — wait
 * for its `listening on http://HOST:PORT` line, and stop it when the scope closes (SIGTERM, then SIGKILL
 * after a grace period). Its stdout and stderr are captured for assertions.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"
import { awaitGone, childPids, isAlive, type WaitOptions } from "./Processes.js"
import { bundledEntry } from "./SourceBundle.js"

/**
 * The daemon exited, or did not print its listening line in time. Carries what it wrote.
 *
 * @category errors
 * @since 0.1.0
 */
export class DaemonStartFailed extends Schema.TaggedError<DaemonStartFailed>()("DaemonStartFailed", {
  entry: Schema.String,
  reason: Schema.String,
  exitCode: Schema.optional(Schema.Int),
  stdout: Schema.String,
  stderr: Schema.String
}) {
  override get message(): string {
    return `${this.entry} did not start: ${this.reason}\n--- stderr ---\n${this.stderr.slice(-4000)}`
  }
}

/**
 * How to start the daemon.
 *
 * @category models
 * @since 0.1.0
 */
export interface SpawnOptions {
  /** The entry point: a JavaScript file (e.g. an installed package's bin) or a TypeScript source. */
  readonly entry: string
  /** Its arguments. */
  readonly args?: ReadonlyArray<string> | undefined
  /** Extra environment variables (the parent's environment is inherited). */
  readonly env?: Record<string, string> | undefined
  /** Working directory (default: the current one). */
  readonly cwd?: string | undefined
  /**
   * Node options before the entry. Default: none for JavaScript; for a `.ts`/`.mts`/`.cts` entry,
   * none either when esbuild is installed (the entry and its imports, workspace packages by their
   * sources, are bundled once into the package's `node_modules/.cache` and rebuilt when a source
   * changes), otherwise `sourceNodeArgs` (`tsx`, which must then be installed). Given, the entry
   * runs as it is, with these options.
   */
  readonly nodeArgs?: ReadonlyArray<string> | undefined
  /** How long to wait for the listening line (default 60 s). */
  readonly startTimeout?: Duration.DurationInput | undefined
  /**
   * How long SIGTERM may take before SIGKILL when the scope closes (default 30 s). Make it longer
   * than the daemon's own shutdown deadline: a daemon killed with SIGKILL leaves its children
   * (engines) running.
   */
  readonly stopGrace?: Duration.DurationInput | undefined
  /**
   * Checks that the daemon leaves no child process (an engine, say) behind. Its children are
   * recorded while it runs (every `interval`, default 250 ms, and once more as it is stopped); once
   * it has stopped they must be gone within `timeout` (default 10 s), else the scope's closing
   * dies with `Processes.ProcessesAlive`, naming each survivor with its command line. Not checked
   * for a daemon the test killed (`signal("SIGKILL")`): its children outlive it by nature, and its
   * next run reaps them. Default: not checked.
   */
  readonly childrenGone?: WaitOptions | undefined
}

/**
 * How a daemon process ended: its exit code, or the signal that killed it.
 *
 * @category models
 * @since 0.1.0
 */
export type DaemonExit = { readonly _tag: "Exited"; readonly code: number } | {
  readonly _tag: "Signaled"
  readonly reason: string
}

/**
 * A running daemon.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunningDaemon {
  /** The URL it printed (`http://127.0.0.1:PORT`). */
  readonly url: string
  /** Its process id. */
  readonly pid: number
  /** Everything it wrote to stdout so far. */
  readonly stdout: Effect.Effect<string>
  /** Everything it wrote to stderr so far. */
  readonly stderr: Effect.Effect<string>
  /** Sends a signal without waiting (after SIGKILL, `childrenGone` is not checked). */
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** Waits until it exits. */
  readonly exit: Effect.Effect<DaemonExit>
  /**
   * Stops reading its stdout and stderr and closes them, as a reader that went away would: what
   * it writes from then on fails (`EPIPE`), and `stdout`/`stderr` keep what came before.
   */
  readonly closeOutput: Effect.Effect<void>
}

// tsx's loader as an absolute URL, so it resolves whatever the working directory is
const tsxLoader = (): string => {
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href
  } catch {
    return "tsx"
  }
}

const isTypeScript = (entry: string): boolean => /\.[cm]?ts$/.test(entry)

/**
 * Node options that run a workspace TypeScript entry point from source (workspace packages resolve
 * to their sources, `tsx` compiles TypeScript).
 *
 * @category utils
 * @since 0.1.0
 */
export const sourceNodeArgs: ReadonlyArray<string> = ["--conditions=@llama-orch/source", "--import", tsxLoader()]

/**
 * The Node options an entry runs with from its source when `nodeArgs` is not given: `sourceNodeArgs`
 * for a TypeScript entry, none for JavaScript (plain `node`, no `tsx` needed). A TypeScript entry
 * runs bundled instead, with no options, when esbuild is installed.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultNodeArgs = (entry: string): ReadonlyArray<string> => isTypeScript(entry) ? sourceNodeArgs : []

/**
 * Whether a process with this id exists and has not exited (`Processes.isAlive`). For asserting
 * that no process is left behind.
 *
 * @category guards
 * @since 0.1.0
 */
export const isProcessAlive: (pid: number) => boolean = isAlive

const listeningLine = /^listening on (http:\/\/\S+)$/

/**
 * Runs a process (no listening line expected) to its end and returns its exit and output. For
 * checking that a daemon refuses to start.
 *
 * @category utils
 * @since 0.1.0
 */
export const runToExit = (
  options: SpawnOptions
): Effect.Effect<
  { readonly exit: DaemonExit; readonly stdout: string; readonly stderr: string },
  DaemonStartFailed,
  CommandExecutor.CommandExecutor
> =>
  Effect.scoped(Effect.gen(function*() {
    const started = yield* start(options)
    const exit = yield* started.exit
    return { exit, stdout: yield* started.stdout, stderr: yield* started.stderr }
  }))

/**
 * The command line `spawnDaemon` runs for an entry, arguments excluded: the Node binary, its options
 * and the entry — for a TypeScript entry without `nodeArgs`, its bundle when esbuild is installed.
 * For starting it another way (under `script(1)` for a terminal, from a shell script on `PATH`).
 *
 * @example
 * ```ts
 * import { SpawnDaemon } from "@llama-orch/daemon-kit"
 * import { Effect } from "effect"
 *
 * const line = Effect.map(SpawnDaemon.nodeCommand({ entry: "apps/pool-managerd/src/bin.ts" }), (argv) => argv.join(" "))
 * Effect.runPromise(line).then(console.log)
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const nodeCommand = (
  options: Pick<SpawnOptions, "entry" | "nodeArgs">
): Effect.Effect<ReadonlyArray<string>> => {
  const source = [process.execPath, ...(options.nodeArgs ?? defaultNodeArgs(options.entry)), options.entry]
  return options.nodeArgs === undefined && isTypeScript(options.entry)
    ? Effect.map(
      bundledEntry(options.entry),
      Option.match({ onNone: () => source, onSome: (bundle) => [process.execPath, bundle] })
    )
    : Effect.succeed(source)
}

/** Whether the process is still running (it is not when that cannot be told). */
const running = (proc: CommandExecutor.Process): Effect.Effect<boolean> =>
  Effect.orElseSucceed(proc.isRunning, () => false)

/**
 * Stops the process when the scope closes, before its output readers end (a daemon that logs its
 * shutdown still has a reader, and its output is complete): SIGTERM, then SIGKILL after the grace
 * period, then a short wait for the rest of its output (`drained`). With `childrenGone`, its
 * children recorded while it ran must then be gone, unless the test killed it (`killed`).
 */
const stopOnClose = (
  proc: CommandExecutor.Process,
  drained: Effect.Effect<unknown>,
  killed: Ref.Ref<boolean>,
  options: SpawnOptions
) =>
  Effect.gen(function*() {
    const children = yield* Ref.make<ReadonlySet<number>>(new Set())
    const record = Effect.flatMap(running(proc), (alive) =>
      alive
        ? Ref.update(children, (seen) => new Set([...seen, ...childPids(proc.pid)]))
        : Effect.void)
    const guard = options.childrenGone
    if (guard !== undefined) {
      yield* record.pipe(Effect.repeat(Schedule.spaced(guard.interval ?? Duration.millis(250))), Effect.forkScoped)
    }
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* record
        yield* proc.kill("SIGTERM").pipe(
          Effect.timeout(options.stopGrace ?? Duration.seconds(30)),
          Effect.catchAll(() => proc.kill("SIGKILL")),
          Effect.ignore
        )
        // bounded: a child that inherited its stdout or stderr keeps the pipe open
        yield* Effect.ignore(Effect.timeout(drained, Duration.seconds(2)))
        // a process the test killed leaves its children by nature (its next run reaps them)
        if (guard === undefined || (yield* Ref.get(killed))) return
        yield* Effect.orDie(awaitGone(yield* Ref.get(children), { timeout: guard.timeout ?? Duration.seconds(10) }))
      })
    )
  })

const start = (options: SpawnOptions) =>
  Effect.gen(function*() {
    const [node = process.execPath, ...nodeArgs] = yield* nodeCommand(options)
    const command = Command.make(node, ...nodeArgs, ...(options.args ?? [])).pipe(
      Command.env(options.env ?? {}),
      options.cwd === undefined ? (c) => c : Command.workingDirectory(options.cwd),
      Command.stdin("pipe")
    )
    const proc = yield* Command.start(command).pipe(
      Effect.mapError((error) =>
        new DaemonStartFailed({ entry: options.entry, reason: error.message, stdout: "", stderr: "" })
      )
    )
    const stdout = yield* Ref.make("")
    const stderr = yield* Ref.make("")
    const url = yield* Deferred.make<string>()
    const stdoutDone = yield* Deferred.make<void>()
    const stderrDone = yield* Deferred.make<void>()
    const stdoutReader = yield* proc.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) =>
        Effect.zipRight(
          Ref.update(stdout, (s) => `${s}${line}\n`),
          Effect.suspend(() => {
            const match = listeningLine.exec(line)
            return match?.[1] === undefined ? Effect.void : Deferred.succeed(url, match[1])
          })
        )
      ),
      Effect.ignore,
      Effect.ensuring(Deferred.succeed(stdoutDone, undefined)),
      Effect.forkScoped
    )
    const stderrReader = yield* proc.stderr.pipe(
      Stream.decodeText(),
      Stream.runForEach((chunk) => Ref.update(stderr, (s) => s + chunk)),
      Effect.ignore,
      Effect.ensuring(Deferred.succeed(stderrDone, undefined)),
      Effect.forkScoped
    )
    const exited = yield* Deferred.make<DaemonExit>()
    yield* proc.exitCode.pipe(
      Effect.either,
      Effect.map((result): DaemonExit =>
        Either.isRight(result)
          ? { _tag: "Exited", code: result.right }
          : { _tag: "Signaled", reason: result.left.message }
      ),
      // the output is complete only once both pipes are drained
      Effect.zipLeft(Effect.all([Deferred.await(stdoutDone), Deferred.await(stderrDone)])),
      Effect.flatMap((exit) => Deferred.succeed(exited, exit)),
      Effect.forkScoped
    )
    // registered last, so it runs first when the scope closes, while the output is still read
    const killed = yield* Ref.make(false)
    yield* stopOnClose(proc, Deferred.await(exited), killed, options)
    return {
      proc,
      url,
      exit: Deferred.await(exited),
      stdout: Ref.get(stdout),
      stderr: Ref.get(stderr),
      // interrupting a reader destroys its end of the pipe
      closeOutput: Effect.asVoid(Fiber.interruptAll([stdoutReader, stderrReader])),
      signal: (signal: NodeJS.Signals) =>
        Effect.zipRight(
          Ref.update(killed, (before) => before || signal === "SIGKILL"),
          Effect.sync(() => {
            try {
              process.kill(proc.pid, signal)
            } catch {
              // already gone
            }
          })
        )
    }
  })

/**
 * Starts the daemon and waits for its listening line. The process is stopped when the scope closes.
 * Fails with `DaemonStartFailed` (carrying its output) when it exits first or the line does not come
 * within `startTimeout`.
 *
 * @category utils
 * @since 0.1.0
 */
export const spawnDaemon = (
  options: SpawnOptions
): Effect.Effect<RunningDaemon, DaemonStartFailed, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Effect.gen(function*() {
    const started = yield* start(options)
    const failed = (reason: string, exitCode?: number) =>
      Effect.flatMap(
        Effect.all([started.stdout, started.stderr]),
        ([stdout, stderr]) =>
          new DaemonStartFailed({
            entry: options.entry,
            reason,
            stdout,
            stderr,
            ...(exitCode === undefined ? {} : { exitCode })
          })
      )
    const url = yield* Effect.raceFirst(
      Deferred.await(started.url),
      Effect.flatMap(started.exit, (exit) =>
        exit._tag === "Exited"
          ? failed(`it exited with code ${exit.code}`, exit.code)
          : failed(`it was stopped: ${exit.reason}`))
    ).pipe(
      Effect.timeout(options.startTimeout ?? Duration.seconds(60)),
      Effect.catchTag("TimeoutException", () => failed("no listening line before the start timeout"))
    )
    const proc = started.proc
    return {
      url,
      pid: proc.pid,
      stdout: started.stdout,
      stderr: started.stderr,
      signal: started.signal,
      exit: started.exit,
      closeOutput: started.closeOutput
    } satisfies RunningDaemon
  })
