import { describe, expect, it } from "@effect/vitest"
import { Processes } from "@llama-orch/daemon-kit"
import { Effect, Exit } from "effect"
import { spawn } from "node:child_process"
import { once } from "node:events"

/** A shell that runs `sleep` as its child and waits for it; killed with the scope. */
const shellWithChild = Effect.acquireRelease(
  Effect.promise(async () => {
    const child = spawn("sh", ["-c", "sleep 60 & echo started; wait"], { stdio: ["ignore", "pipe", "ignore"] })
    await once(child.stdout, "data")
    return child
  }),
  (child) =>
    Effect.sync(() => {
      for (const pid of Processes.childPids(child.pid ?? 0)) process.kill(pid, "SIGKILL")
      child.kill("SIGKILL")
    })
)

describe("Processes", () => {
  it.scopedLive("finds a process's children, sees them alive, and waits until they are gone", () =>
    Effect.gen(function*() {
      const shell = yield* shellWithChild
      const pid = shell.pid ?? 0
      const children = Processes.childPids(pid)
      expect(children).toHaveLength(1)
      expect([pid, ...children].every(Processes.isAlive)).toBe(true)

      const tooSoon = yield* Effect.exit(Processes.awaitGone([pid, ...children], { timeout: "100 millis" }))
      // the survivors are named with their command lines
      expect(tooSoon).toEqual(
        Exit.fail(
          new Processes.ProcessesAlive({
            pids: [pid, ...children],
            commandLines: ["sh -c sleep 60 & echo started; wait", "sleep 60"],
            waitedMs: 100
          })
        )
      )
      expect(Processes.commandLine(children[0] ?? 0)).toBe("sleep 60")

      for (const child of children) process.kill(child, "SIGKILL")
      yield* Processes.awaitGone(children)
      // the shell's `wait` returns once its child is gone, and Node reaps the shell
      yield* Processes.awaitGone(pid)
      expect(Processes.isAlive(pid)).toBe(false)
      expect(Processes.childPids(pid)).toEqual([])
    }))

  it.live("waitFor retries a check until it succeeds, and gives up with its last error", () =>
    Effect.gen(function*() {
      let calls = 0
      const third = Effect.suspend(() => ++calls >= 3 ? Effect.succeed(calls) : Effect.fail(`call ${calls}`))
      expect(yield* Processes.waitFor(third, { interval: "1 millis" })).toBe(3)

      const never = Effect.fail("not yet")
      expect(yield* Effect.flip(Processes.waitFor(never, { interval: "10 millis", timeout: "50 millis" }))).toBe(
        "not yet"
      )
    }))
})
