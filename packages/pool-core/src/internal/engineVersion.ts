/**
 * Engine version detection: runs the profile's `versionArgs` once (with the engines' clean
 * environment) and reads what it prints on stdout and stderr: llama-server prints
 * `version: 4589 (d2fe216f)` on stderr, after device lines.
 *
 * @internal
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as NodeProcess from "node:process"
import type { EngineProfile } from "../EngineProfile.js"
import { baseEnvironment } from "./engineProcess.js"
import { signalGroup } from "./processControl.js"

/** Reported when the profile has no `versionArgs` or the command fails or times out. */
export const unknownVersion = "unknown"

/**
 * The version line of what `command ...versionArgs` prints within `timeoutMs`: the first line
 * starting with `version` on either stream, else the first non-empty line of stdout, else of stderr;
 * `"unknown"` when there is none.
 */
export const versionLine = (stdout: ReadonlyArray<string>, stderr: ReadonlyArray<string>): string => {
  const lines = [...stdout, ...stderr].map((line) => line.trim())
  return lines.find((line) => /^version\b/i.test(line)) ??
    stdout.map((line) => line.trim()).find((line) => line !== "") ??
    stderr.map((line) => line.trim()).find((line) => line !== "") ??
    unknownVersion
}

/** The version `command ...versionArgs` reports within `timeoutMs` (see `versionLine`), or `"unknown"`. */
export const detectEngineVersion = (
  executor: CommandExecutor.CommandExecutor,
  profile: EngineProfile,
  timeoutMs: number
): Effect.Effect<string> => {
  const versionArgs = profile.versionArgs
  if (versionArgs === undefined) return Effect.succeed(unknownVersion)
  return Effect.scoped(
    Effect.gen(function*() {
      const proc = yield* executor.start(
        Command.make(profile.command, ...versionArgs).pipe(
          Command.env({ ...baseEnvironment(NodeProcess.env), ...profile.env }, { extendEnv: false }),
          Command.feed("")
        )
      )
      // runs before the executor's own finalizer, which would wait forever for a process that ignores SIGTERM
      yield* Effect.addFinalizer(() =>
        Effect.asVoid(signalGroup(proc.pid, "SIGKILL")).pipe(
          Effect.whenEffect(proc.isRunning.pipe(Effect.orElseSucceed(() => false)))
        )
      )
      const lines = (stream: Stream.Stream<Uint8Array, unknown>) =>
        stream.pipe(Stream.decodeText(), Stream.splitLines, Stream.runCollect, Effect.map(Chunk.toArray))
      const [stdout, stderr] = yield* Effect.all([lines(proc.stdout), lines(proc.stderr), proc.exitCode], {
        concurrency: "unbounded"
      })
      return versionLine(stdout, stderr)
    })
  ).pipe(
    Effect.timeout(timeoutMs),
    Effect.catchAllCause((cause) =>
      Effect.logWarning(`could not read the version of engine ${profile.name}`, cause).pipe(Effect.as(unknownVersion))
    )
  )
}
