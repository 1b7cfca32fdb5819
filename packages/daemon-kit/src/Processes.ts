/**
 * A test helper: whether a process is alive, the children of a process, waiting (bounded) until
 * processes are gone, and retrying a check until it holds. For tests that run real processes, so
 * on real time: under `@effect/vitest` use `it.live` (with the `TestClock` the waits never end).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"

/** Whether the process has exited and waits to be reaped (Linux `/proc/PID/stat` state `Z`). */
const isZombie = (pid: number): boolean => {
  try {
    // the state follows the parenthesised command name: "pid (comm) S ..."
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")
  } catch {
    return false
  }
}

/**
 * Whether a process with this id exists and has not exited: signal 0 probes it without killing; a
 * zombie (exited, not yet reaped by its parent) counts as gone.
 *
 * @example
 * ```ts
 * import { Processes } from "@llama-orch/daemon-kit"
 *
 * console.log(Processes.isAlive(process.pid)) // true
 * ```
 *
 * @category predicates
 * @since 0.1.0
 */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return !isZombie(pid)
  } catch (error) {
    // EPERM: it exists but belongs to someone else
    return error instanceof Error && "code" in error && error.code === "EPERM"
  }
}

/** The command line of a process from `/proc` (arguments joined by spaces), if it can be read. */
const procCommandLine = (pid: number): string | undefined => {
  try {
    const line = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((arg) => arg !== "").join(" ")
    return line === "" ? undefined : line
  } catch {
    return undefined
  }
}

/**
 * The command line of a process (its arguments joined by spaces, from `/proc` or `ps`), or
 * `undefined` when it is gone. For naming the processes a test left behind.
 *
 * @example
 * ```ts
 * import { Processes } from "@llama-orch/daemon-kit"
 *
 * console.log(Processes.commandLine(process.pid)) // e.g. "node main.js"
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const commandLine = (pid: number): string | undefined => {
  const fromProc = procCommandLine(pid)
  if (fromProc !== undefined) return fromProc
  try {
    const line = execFileSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" }).trim()
    return line === "" ? undefined : line
  } catch {
    return undefined
  }
}

// Linux lists a thread's children in /proc/PID/task/TID/children (a read is a fraction of a
// millisecond; running `ps` takes tens on a busy machine): read there where the kernel has it
const procListsChildren = existsSync(`/proc/self/task/${process.pid}/children`)

/** The children of `pid` from `/proc` (every thread's list): empty when it is gone. */
const procChildPids = (pid: number): ReadonlyArray<number> => {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ").filter((n) => n !== "").map(Number)
    )
  } catch {
    return []
  }
}

/** The children of `pid` with their command lines, from `ps`. */
const psChildren = (pid: number): ReadonlyArray<readonly [number, string]> => {
  try {
    return execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(pid)], { encoding: "utf8" })
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "")
      .map((line) => [Number(line.split(/\s+/)[0]), line] as const)
  } catch {
    return []
  }
}

/**
 * The child processes of `pid` (from `/proc` on Linux, else from `ps`), without the esbuild service
 * that the TypeScript loader (`tsx`) runs beside a daemon started from source. Empty when there are
 * none.
 *
 * @category getters
 * @since 0.1.0
 */
export const childPids = (pid: number): ReadonlyArray<number> =>
  (procListsChildren
    ? procChildPids(pid).map((child) => [child, procCommandLine(child) ?? ""] as const)
    : psChildren(pid))
    .filter(([child, args]) => Number.isInteger(child) && child > 0 && !/esbuild/.test(args))
    .map(([child]) => child)

/**
 * Processes were still alive when `awaitGone` gave up: their ids and, in the same order, their
 * command lines (empty when it could not be read).
 *
 * @category errors
 * @since 0.1.0
 */
export class ProcessesAlive extends Schema.TaggedError<ProcessesAlive>()("ProcessesAlive", {
  pids: Schema.Array(Schema.Int),
  commandLines: Schema.Array(Schema.String),
  waitedMs: Schema.Number
}) {
  override get message(): string {
    const named = this.pids.map((pid, i) => `${pid} (${this.commandLines[i] ?? ""})`)
    return `processes still alive after ${this.waitedMs} ms: ${named.join(", ")}`
  }
}

/**
 * Options of the waits: how long at most (default 30 seconds: the machine may be shared) and how
 * often to look (default every 50 milliseconds).
 *
 * @category models
 * @since 0.1.0
 */
export interface WaitOptions {
  readonly timeout?: Duration.DurationInput
  readonly interval?: Duration.DurationInput
}

/**
 * Retries `check` until it succeeds, every `interval`, for at most `timeout`; then fails with the
 * check's last error. For a condition that an event outside the test makes true (a process
 * exiting, a metric moving, a daemon answering).
 *
 * @example
 * ```ts
 * import { Processes } from "@llama-orch/daemon-kit"
 * import { Effect } from "effect"
 *
 * // waits for a daemon to answer 200 on /health
 * const healthy = (url: string) =>
 *   Processes.waitFor(
 *     Effect.tryPromise(() => fetch(`${url}/health`)).pipe(
 *       Effect.filterOrFail((response) => response.status === 200, () => new Error(`${url}: not healthy yet`))
 *     ),
 *     { timeout: "60 seconds", interval: "200 millis" }
 *   )
 *
 * Effect.runPromise(healthy("http://127.0.0.1:9200")).then(() => console.log("up"), console.error)
 * ```
 *
 * @category waits
 * @since 0.1.0
 */
export const waitFor = <A, E, R>(check: Effect.Effect<A, E, R>, options: WaitOptions = {}): Effect.Effect<A, E, R> =>
  Effect.retry(
    check,
    Schedule.spaced(options.interval ?? Duration.millis(50)).pipe(
      Schedule.upTo(options.timeout ?? Duration.seconds(30))
    )
  )

/**
 * Waits until none of the processes is alive; fails with `ProcessesAlive` naming the survivors
 * (ids and command lines) after `timeout`.
 *
 * @category waits
 * @since 0.1.0
 */
export const awaitGone = (
  pids: number | Iterable<number>,
  options: WaitOptions = {}
): Effect.Effect<void, ProcessesAlive> => {
  const all = typeof pids === "number" ? [pids] : [...pids]
  const waitedMs = Duration.toMillis(options.timeout ?? Duration.seconds(30))
  return waitFor(
    Effect.suspend(() => {
      const alive = all.filter(isAlive)
      return alive.length === 0 ? Effect.void : Effect.fail(alive)
    }),
    options
  ).pipe(
    // the command lines are read once, of the processes left when the wait gives up
    Effect.mapError((alive) =>
      new ProcessesAlive({ pids: alive, commandLines: alive.map((pid) => commandLine(pid) ?? ""), waitedMs })
    )
  )
}
