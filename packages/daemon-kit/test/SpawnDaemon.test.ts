import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Processes, SpawnDaemon } from "@llama-orch/daemon-kit"
import { Cause, Effect, Exit, Option } from "effect"

const plainEntry = new URL("./fixtures/plain-daemon.js", import.meta.url).pathname

/** Runs the plain daemon with `args` in a scope of its own; returns how the scope closed and its children. */
const runPlain = (
  args: ReadonlyArray<string>,
  during: (daemon: SpawnDaemon.RunningDaemon) => Effect.Effect<void> = () => Effect.void
) =>
  Effect.gen(function*() {
    let children: ReadonlyArray<number> = []
    const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
      const daemon = yield* SpawnDaemon.spawnDaemon({
        entry: plainEntry,
        args,
        childrenGone: { timeout: "300 millis" }
      })
      children = Processes.childPids(daemon.pid)
      yield* during(daemon)
    })))
    // whatever the test asserts, the child does not outlive it
    for (const pid of children.filter(Processes.isAlive)) process.kill(pid, "SIGKILL")
    return { exit, children }
  })

describe("SpawnDaemon", () => {
  it("runs a JavaScript entry with plain node and a TypeScript one through tsx", () => {
    expect(SpawnDaemon.defaultNodeArgs("node_modules/@llama-orch/pool-managerd/bin/pool-managerd.js")).toEqual([])
    expect(SpawnDaemon.defaultNodeArgs("apps/pool-managerd/src/bin.ts")).toBe(SpawnDaemon.sourceNodeArgs)
    expect(SpawnDaemon.defaultNodeArgs("src/bin.mts")).toBe(SpawnDaemon.sourceNodeArgs)
  })

  it.scopedLive(
    "starts an installed-style .js bin without any loader, as a user without tsx would",
    () =>
      Effect.gen(function*() {
        const daemon = yield* SpawnDaemon.spawnDaemon({ entry: plainEntry })
        const body = yield* Effect.promise(() => fetch(daemon.url).then((r) => r.text()))
        expect(body).toBe("plain")
        const stderr = yield* daemon.stderr
        expect(JSON.parse(stderr.trim().split("\n")[0] ?? "")).toEqual({ execArgv: [] })
        yield* daemon.signal("SIGTERM")
        expect(yield* daemon.exit).toEqual({ _tag: "Exited", code: 0 })
        expect(SpawnDaemon.isProcessAlive(daemon.pid)).toBe(false)
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.live(
    "stops the daemon while it still reads its output: what it writes as it stops is captured",
    () =>
      Effect.gen(function*() {
        const daemon = yield* Effect.scoped(SpawnDaemon.spawnDaemon({ entry: plainEntry }))
        // the scope is closed: the daemon got SIGTERM with its pipes open and ended normally
        expect(yield* daemon.stderr).toMatch(/\nstopping\n$/)
        expect(yield* daemon.exit).toEqual({ _tag: "Exited", code: 0 })
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.live(
    "childrenGone: a child left running when the daemon stops fails the scope, named by its command line",
    () =>
      Effect.gen(function*() {
        const left = yield* runPlain(["--leave-child"])
        expect(left.children).toHaveLength(1)
        const defect = Exit.isFailure(left.exit) ? Option.getOrUndefined(Cause.dieOption(left.exit.cause)) : undefined
        expect(defect).toEqual(
          new Processes.ProcessesAlive({ pids: left.children, commandLines: ["sleep 60"], waitedMs: 300 })
        )

        // a daemon that stops its child closes its scope cleanly
        const stopped = yield* runPlain(["--child"])
        expect(stopped.children).toHaveLength(1)
        expect(stopped.exit).toEqual(Exit.void)
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.live(
    "childrenGone: not checked for a daemon the test killed with SIGKILL (its next run reaps its children)",
    () =>
      Effect.gen(function*() {
        const killed = yield* runPlain(
          ["--leave-child"],
          (daemon) => Effect.zipRight(daemon.signal("SIGKILL"), daemon.exit)
        )
        expect(killed.children).toHaveLength(1)
        expect(killed.exit).toEqual(Exit.void)
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )
})
