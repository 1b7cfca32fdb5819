/**
 * Signals and process identity. The only module that touches `process.kill`; everything is
 * wrapped in Effect and never throws.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as NodeProcess from "node:process"

/** The signals the manager sends. */
export type StopSignal = "SIGTERM" | "SIGKILL"

/**
 * Sends `signal` to the process group led by `pid` (engines are spawned as group leaders), falling
 * back to the process itself. Returns false when there was nobody to signal.
 */
export const signalGroup = (pid: number, signal: StopSignal): Effect.Effect<boolean> =>
  Effect.sync(() => {
    try {
      NodeProcess.kill(-pid, signal)
      return true
    } catch {
      try {
        NodeProcess.kill(pid, signal)
        return true
      } catch {
        return false
      }
    }
  })

/** True while a process with this pid exists (signal 0; EPERM counts as alive). */
export const isAlive = (pid: number): Effect.Effect<boolean> =>
  Effect.sync(() => {
    try {
      NodeProcess.kill(pid, 0)
      return true
    } catch (error) {
      return error instanceof Error && "code" in error && error.code === "EPERM"
    }
  })

/**
 * Polls until the process is gone or `timeoutMs` passes. Returns true when it is gone.
 * Used for processes that are not our children (the reaper), whose exit we cannot await.
 */
export const awaitGone = (pid: number, timeoutMs: number): Effect.Effect<boolean> =>
  isAlive(pid).pipe(
    Effect.repeat({ schedule: Schedule.spaced("25 millis"), while: (alive) => alive }),
    Effect.timeoutTo({ duration: timeoutMs, onTimeout: () => false, onSuccess: (alive) => !alive })
  )

/**
 * The process start time (field 22 of `/proc/<pid>/stat`, clock ticks since boot) from the text of
 * that file. The command name (field 2) may contain spaces and parentheses, so fields are counted
 * after its closing parenthesis.
 */
export const parseStatStartTime = (stat: string): Option.Option<string> => {
  const close = stat.lastIndexOf(")")
  if (close < 0) return Option.none()
  const fields = stat.slice(close + 1).trim().split(/\s+/)
  // fields[0] is field 3 (state), so field 22 is fields[19]
  const value = fields[19]
  return value !== undefined && /^\d+$/.test(value) ? Option.some(value) : Option.none()
}

/** The process group (field 5 of `/proc/<pid>/stat`) from the text of that file. */
export const parseStatProcessGroup = (stat: string): Option.Option<number> => {
  const close = stat.lastIndexOf(")")
  if (close < 0) return Option.none()
  // fields[0] is field 3 (state), so field 5 is fields[2]
  const value = stat.slice(close + 1).trim().split(/\s+/)[2]
  return value !== undefined && /^\d+$/.test(value) ? Option.some(Number(value)) : Option.none()
}

/** The argument vector from the text of `/proc/<pid>/cmdline` (NUL-separated). */
export const parseCmdline = (cmdline: string): ReadonlyArray<string> => {
  const parts = cmdline.split("\u0000")
  return parts.length > 0 && parts[parts.length - 1] === "" ? parts.slice(0, -1) : parts
}
