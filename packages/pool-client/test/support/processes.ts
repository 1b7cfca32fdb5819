/** Process helpers for tests: liveness checks and waiting (bounded) for processes to disappear. */
import { Effect, Schedule } from "effect"
import { readFileSync } from "node:fs"

const isZombie = (pid: number): boolean => {
  try {
    // the state follows the parenthesised command name: "pid (comm) S ..."
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")
  } catch {
    return false
  }
}

/** Whether a process with this pid exists and is not a zombie (signal 0 probes without killing). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return !isZombie(pid)
  } catch (error) {
    return error instanceof Error && "code" in error && error.code === "EPERM"
  }
}

/** Waits until none of `pids` is alive, failing with the survivors after `timeout`. */
export const awaitGone = (pids: Iterable<number>, timeout: `${number} seconds` = "20 seconds") => {
  const all = [...pids]
  return Effect.suspend(() => {
    const alive = all.filter(isAlive)
    return alive.length === 0 ? Effect.void : Effect.fail(alive)
  }).pipe(
    Effect.retry(Schedule.spaced("100 millis")),
    Effect.timeoutFail({ duration: timeout, onTimeout: () => all.filter(isAlive) }),
    Effect.mapError((alive) => new Error(`processes still alive: ${alive.join(", ")}`)),
    Effect.orDie
  )
}
