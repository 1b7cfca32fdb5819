/**
 * Running a short-lived command to its end and collecting what it printed: used for engine version
 * detection and for `nvidia-smi` queries. The process is killed (its group first) when the caller is
 * interrupted, e.g. by a timeout, so no child outlives the query.
 *
 * @internal
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as PlatformError from "@effect/platform/Error"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { signalGroup } from "./processControl.js"

/** What a finished command printed, line by line, and its exit code. */
export interface CommandOutput {
  readonly exitCode: number
  readonly stdout: ReadonlyArray<string>
  readonly stderr: ReadonlyArray<string>
}

/** Runs `command` with empty stdin until it exits; fails when it cannot be started. */
export const runCollect = (
  executor: CommandExecutor.CommandExecutor,
  command: Command.Command
): Effect.Effect<CommandOutput, PlatformError.PlatformError> =>
  Effect.scoped(
    Effect.gen(function*() {
      const proc = yield* executor.start(Command.feed(command, ""))
      // runs before the executor's own finalizer, which would wait forever for a process that ignores SIGTERM
      yield* Effect.addFinalizer(() =>
        Effect.asVoid(signalGroup(proc.pid, "SIGKILL")).pipe(
          Effect.whenEffect(proc.isRunning.pipe(Effect.orElseSucceed(() => false)))
        )
      )
      const lines = (stream: Stream.Stream<Uint8Array, PlatformError.PlatformError>) =>
        stream.pipe(Stream.decodeText(), Stream.splitLines, Stream.runCollect, Effect.map(Chunk.toArray))
      const [stdout, stderr, exitCode] = yield* Effect.all([lines(proc.stdout), lines(proc.stderr), proc.exitCode], {
        concurrency: "unbounded"
      })
      return { exitCode, stdout, stderr }
    })
  )
