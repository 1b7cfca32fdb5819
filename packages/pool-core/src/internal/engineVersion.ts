/**
 * Engine version detection: runs the profile's `versionArgs` once (with the engines' clean
 * environment) and reads what it prints on stdout and stderr: llama-server prints
 * `version: 4589 (d2fe216f)` on stderr, after device lines.
 *
 * @internal
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Effect from "effect/Effect"
import * as NodeProcess from "node:process"
import type { EngineProfile } from "../EngineProfile.js"
import { runCollect } from "./commandOutput.js"
import { baseEnvironment } from "./engineProcess.js"

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
  const command = Command.make(profile.command, ...versionArgs).pipe(
    Command.env({ ...baseEnvironment(NodeProcess.env), ...profile.env }, { extendEnv: false })
  )
  return runCollect(executor, command).pipe(
    Effect.map(({ stderr, stdout }) => versionLine(stdout, stderr)),
    Effect.timeout(timeoutMs),
    Effect.catchAllCause((cause) =>
      Effect.logWarning(`could not read the version of engine ${profile.name}`, cause).pipe(Effect.as(unknownVersion))
    )
  )
}
