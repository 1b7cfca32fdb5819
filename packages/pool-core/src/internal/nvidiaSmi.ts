/**
 * `nvidia-smi` queries in CSV form (`--format=csv,noheader,nounits`): one row per line, fields
 * separated by commas. A missing `nvidia-smi` is not an error: the machine has no NVIDIA driver
 * tools, and callers then do without GPU memory information.
 *
 * @internal
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { runCollect } from "./commandOutput.js"

/** The program queried, looked up on `PATH`. */
export const nvidiaSmiCommand = "nvidia-smi"

/** How long one query may take before it counts as failed. */
export const defaultQueryTimeoutMs = 10_000

/**
 * `nvidia-smi` is on `PATH` but a query failed: it exited non-zero (no driver loaded, no permission),
 * printed something that is not the expected CSV, or did not answer in time.
 *
 * @since 0.1.0
 */
export class NvidiaSmiFailed extends Schema.TaggedError<NvidiaSmiFailed>()("NvidiaSmiFailed", {
  args: Schema.Array(Schema.String),
  reason: Schema.String,
  exitCode: Schema.optional(Schema.Int),
  stderrTail: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const exit = this.exitCode === undefined ? "" : ` (exit code ${this.exitCode})`
    const stderr = this.stderrTail === undefined || this.stderrTail === "" ? "" : `: ${this.stderrTail}`
    return `${nvidiaSmiCommand} ${this.args.join(" ")} failed${exit}: ${this.reason}${stderr}`
  }
}

/** The fields of each non-empty line of CSV output, trimmed. */
export const csvRows = (lines: ReadonlyArray<string>): ReadonlyArray<ReadonlyArray<string>> =>
  lines.map((line) => line.trim()).filter((line) => line !== "").map((line) => line.split(",").map((f) => f.trim()))

/**
 * Runs `nvidia-smi ...args` and returns its CSV rows; `None` when `nvidia-smi` is not on `PATH`.
 */
export const queryCsv = (
  executor: CommandExecutor.CommandExecutor,
  args: ReadonlyArray<string>,
  timeoutMs: number = defaultQueryTimeoutMs
): Effect.Effect<Option.Option<ReadonlyArray<ReadonlyArray<string>>>, NvidiaSmiFailed> =>
  runCollect(executor, Command.make(nvidiaSmiCommand, ...args)).pipe(
    Effect.timeoutFail({
      duration: timeoutMs,
      onTimeout: () => new NvidiaSmiFailed({ args, reason: `no answer within ${timeoutMs} ms` })
    }),
    Effect.flatMap((output) =>
      output.exitCode === 0
        ? Effect.succeed(Option.some(csvRows(output.stdout)))
        : Effect.fail(
          new NvidiaSmiFailed({
            args,
            reason: output.stdout.join(" ").trim() || "it exited with an error",
            exitCode: output.exitCode,
            stderrTail: output.stderr.slice(-5).join("\n").trim()
          })
        )
    ),
    Effect.catchTag("SystemError", (error) =>
      error.reason === "NotFound"
        ? Effect.succeed(Option.none())
        : Effect.fail(new NvidiaSmiFailed({ args, reason: `could not run it: ${error.message}` }))),
    Effect.catchTag("BadArgument", (error) => Effect.fail(new NvidiaSmiFailed({ args, reason: error.message })))
  )
