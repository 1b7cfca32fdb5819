/**
 * Engine version detection: runs the profile's `versionArgs` once and takes the first line of
 * stdout.
 *
 * @internal
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { EngineProfile } from "../EngineProfile.js"
import { signalGroup } from "./processControl.js"

/** Reported when the profile has no `versionArgs` or the command fails or times out. */
export const unknownVersion = "unknown"

/** The first non-empty line `command ...versionArgs` prints within `timeoutMs`, or `"unknown"`. */
export const detectEngineVersion = (
  executor: CommandExecutor.CommandExecutor,
  profile: EngineProfile,
  timeoutMs: number
): Effect.Effect<string> => {
  const versionArgs = profile.versionArgs
  if (versionArgs === undefined) return Effect.succeed(unknownVersion)
  return Effect.scoped(
    Effect.gen(function*() {
      const proc = yield* executor.start(Command.make(profile.command, ...versionArgs).pipe(Command.feed("")))
      // runs before the executor's own finalizer, which would wait forever for a process that ignores SIGTERM
      yield* Effect.addFinalizer(() =>
        Effect.asVoid(signalGroup(proc.pid, "SIGKILL")).pipe(
          Effect.whenEffect(proc.isRunning.pipe(Effect.orElseSucceed(() => false)))
        )
      )
      const [lines] = yield* Effect.all([
        proc.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.runCollect),
        proc.stderr.pipe(Stream.runDrain),
        proc.exitCode
      ], { concurrency: "unbounded" })
      for (const line of lines) {
        if (line.trim() !== "") return line.trim()
      }
      return unknownVersion
    })
  ).pipe(
    Effect.timeout(timeoutMs),
    Effect.catchAllCause((cause) =>
      Effect.logWarning(`could not read the version of engine ${profile.name}`, cause).pipe(Effect.as(unknownVersion))
    )
  )
}
