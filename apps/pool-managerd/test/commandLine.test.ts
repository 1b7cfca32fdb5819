/**
 * pool-managerd's command line as a real process: `--log-level` given before the other flags wins
 * over the file's `log_level`, and a start-up refusal (a locked state directory, a `--state-dir`
 * that cannot be a directory) is one plain line with exit code 2, whatever the log level.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { Effect } from "effect"
import { entry, writeConfig } from "./helpers.js"

const jsonLines = (stderr: string): ReadonlyArray<unknown> =>
  stderr.split("\n").filter((line) => line.startsWith("{")).map((line): unknown => JSON.parse(line))

/** The lines that are not JSON log lines: what a person reads. */
const plainLines = (stderr: string): ReadonlyArray<string> =>
  stderr.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("{"))

describe("pool-managerd command line", () => {
  it.scopedLive("--log-level before the other flags wins over the file's log_level", () =>
    Effect.gen(function*() {
      const { dir, file } = yield* writeConfig("log_level: error\n")
      const daemon = yield* SpawnDaemon.spawnDaemon({
        entry,
        args: ["--log-level", "debug", "--config", file, "--port", "0", "--state-dir", `${dir}/state`]
      })
      yield* daemon.signal("SIGTERM")
      expect(yield* daemon.exit).toEqual({ _tag: "Exited", code: 0 })
      const lines = jsonLines(yield* daemon.stderr)
      expect(lines).toContainEqual(
        expect.objectContaining({ level: "debug", message: "Log level debug, from the command line." })
      )
      expect(lines).toContainEqual(expect.objectContaining({ level: "info", message: "pool-managerd is starting." }))
    }).pipe(Effect.provide(NodeContext.layer)), 60_000)

  it.scopedLive(
    "a state directory locked by a running manager: one plain line, exit 2, no stack even at debug",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const { dir } = yield* writeConfig("")
        const stateDir = `${dir}/state`
        yield* fs.makeDirectory(stateDir, { mode: 0o700 })
        // this test's own process, alive, holds the lock
        yield* fs.writeFileString(`${stateDir}/lock`, JSON.stringify({ pid: process.pid }))
        const args = ["--port", "0", "--state-dir", stateDir]
        const [quiet, debug] = yield* Effect.all([
          SpawnDaemon.runToExit({ entry, args }),
          SpawnDaemon.runToExit({ entry, args: [...args, "--log-level", "debug"] })
        ], { concurrency: 2 })
        for (const result of [quiet, debug]) {
          expect(result.exit).toEqual({ _tag: "Exited", code: 2 })
          expect(result.stderr).not.toContain("    at ")
          expect(result.stderr).not.toContain("\u001b[")
          expect(plainLines(result.stderr)).toEqual([
            `pool-managerd: refusing the state directory ${stateDir}: another pool manager (pid ${process.pid}) ` +
            "uses it; one manager per state directory"
          ])
          expect(jsonLines(result.stderr)).not.toContainEqual(expect.objectContaining({ cause: expect.anything() }))
        }
        expect(jsonLines(debug.stderr)).toContainEqual(expect.objectContaining({ level: "debug" }))
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.scopedLive(
    "a --state-dir below a regular file is a bad command line (exit 2, one line), not a crash",
    () =>
      Effect.gen(function*() {
        const { file } = yield* writeConfig("")
        const result = yield* SpawnDaemon.runToExit({ entry, args: ["--port", "0", "--state-dir", `${file}/state`] })
        expect(result.exit).toEqual({ _tag: "Exited", code: 2 })
        expect(result.stdout).toBe("")
        expect(result.stderr).toMatch(
          new RegExp(`^pool-managerd: --state-dir cannot be '${file}/state': ENOTDIR: not a directory[^\\n]*\\n$`)
        )
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )
})
