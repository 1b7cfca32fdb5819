/**
 * Spawning real mock engine processes from Effect code (tests, benchmarks).
 */
import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { mockEngineCommand } from "./engineCommand.js"

/**
 * Flags of one mock engine, camelCase (see `mock-engine --help`). The port is always 0 (picked by the OS).
 *
 * @category models
 * @since 0.1.0
 */
export interface MockEngineOptions {
  readonly host?: string | undefined
  readonly model?: string | undefined
  readonly slots?: number | undefined
  readonly ctx?: number | undefined
  readonly tps?: number | undefined
  readonly loadMs?: number | undefined
  readonly crashOnStart?: boolean | undefined
  /** Listen, then exit halfway through `loadMs` with a model-load error (a crash during the load). */
  readonly crashDuringLoad?: boolean | undefined
  readonly crashAfterTokens?: number | undefined
  readonly hangHealth?: boolean | undefined
  /** Device memory in MiB to report as `footprint_mb` in the `/health` body. */
  readonly footprintMb?: number | undefined
  /** Serve `/v1/embeddings`. */
  readonly embeddings?: boolean | undefined
  readonly ignoreSigterm?: boolean | undefined
  readonly exitCode?: number | undefined
  /** How long to wait for the listening line (default 30 seconds). */
  readonly startTimeout?: Duration.DurationInput | undefined
  /** Grace between SIGTERM and SIGKILL when the scope closes (default 1 second). */
  readonly killGrace?: Duration.DurationInput | undefined
}

/**
 * A running mock engine process.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunningMockEngine {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string
  readonly host: string
  readonly port: number
  readonly pid: number
  /** The last lines the process wrote to stderr (at most 64 KiB). */
  readonly stderrTail: Effect.Effect<string>
  /** Waits for the process to exit; fails when it was killed by a signal. */
  readonly exitCode: Effect.Effect<number, PlatformError>
  /** Whether the process is still running. */
  readonly isRunning: Effect.Effect<boolean>
  /** Sends a signal to the process without waiting for it to exit. */
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<void>
}

/**
 * The mock engine did not reach its listening line.
 *
 * @category errors
 * @since 0.1.0
 */
export class MockEngineStartError extends Schema.TaggedError<MockEngineStartError>()("MockEngineStartError", {
  reason: Schema.Literal("Exited", "Timeout", "SpawnFailed"),
  message: Schema.String,
  exitCode: Schema.optional(Schema.Number),
  stderrTail: Schema.String
}) {}

/**
 * Turns options into command-line flags.
 *
 * @category utils
 * @since 0.1.0
 */
export const toArgs = (options: MockEngineOptions): ReadonlyArray<string> => {
  const value = (flag: string, v: string | number | undefined) => v === undefined ? [] : [flag, String(v)]
  const bool = (flag: string, v: boolean | undefined) => v === true ? [flag] : []
  return [
    "--port",
    "0",
    ...value("--host", options.host),
    ...value("--model", options.model),
    ...value("--slots", options.slots),
    ...value("--ctx", options.ctx),
    ...value("--tps", options.tps),
    ...value("--load-ms", options.loadMs),
    ...bool("--crash-on-start", options.crashOnStart),
    ...bool("--crash-during-load", options.crashDuringLoad),
    ...value("--crash-after-tokens", options.crashAfterTokens),
    ...bool("--hang-health", options.hangHealth),
    ...value("--footprint-mb", options.footprintMb),
    ...bool("--embeddings", options.embeddings),
    ...bool("--ignore-sigterm", options.ignoreSigterm),
    ...value("--exit-code", options.exitCode)
  ]
}

const tailBytes = 64 * 1024
const listeningLine = /^listening on (http:\/\/(.+):(\d+))$/

/**
 * Spawns a mock engine on a port picked by the OS and waits until it listens. The process (and its
 * process group) is stopped when the scope closes: SIGTERM, then SIGKILL after `killGrace`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const start = (
  options: MockEngineOptions = {}
): Effect.Effect<RunningMockEngine, MockEngineStartError, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Effect.gen(function*() {
    const executor = yield* CommandExecutor.CommandExecutor
    const line = mockEngineCommand()
    const stderr = yield* Ref.make("")
    const stderrTail = Ref.get(stderr)
    const proc = yield* executor.start(Command.make(line.command, ...line.args, ...toArgs(options))).pipe(
      Effect.mapError((error) =>
        new MockEngineStartError({ reason: "SpawnFailed", message: error.message, stderrTail: "" })
      )
    )
    const grace = options.killGrace ?? Duration.seconds(1)
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(proc.isRunning, (running) =>
        running ?
          proc.kill("SIGTERM").pipe(
            Effect.timeout(grace),
            Effect.catchAll(() => proc.kill("SIGKILL"))
          ) :
          Effect.void).pipe(Effect.ignore)
    )
    const stderrFiber = yield* proc.stderr.pipe(
      Stream.decodeText(),
      Stream.runForEach((chunk) => Ref.update(stderr, (tail) => (tail + chunk).slice(-tailBytes))),
      Effect.ignore,
      Effect.forkScoped
    )
    const listening = yield* Deferred.make<{ url: string; host: string; port: number }>()
    yield* proc.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((text) => {
        const match = listeningLine.exec(text.trim())
        return match === null ?
          Effect.void :
          Deferred.succeed(listening, { url: match[1] ?? "", host: match[2] ?? "", port: Number(match[3]) })
      }),
      Effect.ignore,
      Effect.forkScoped
    )
    const failed = (reason: "Exited" | "Timeout", message: string, exitCode?: number) =>
      Effect.flatMap(
        Fiber.await(stderrFiber).pipe(Effect.timeout(Duration.seconds(1)), Effect.ignore, Effect.zipRight(stderrTail)),
        (tail) =>
          Effect.fail(
            new MockEngineStartError({
              reason,
              message,
              stderrTail: tail,
              ...(exitCode === undefined ? {} : { exitCode })
            })
          )
      )
    const exited = proc.exitCode.pipe(
      Effect.matchEffect({
        onFailure: (error) => failed("Exited", `mock engine exited before listening: ${error.message}`),
        onSuccess: (code) => failed("Exited", `mock engine exited with code ${code} before listening`, code)
      })
    )
    const timeout = options.startTimeout ?? Duration.seconds(30)
    const address = yield* Deferred.await(listening).pipe(
      Effect.raceFirst(exited),
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => null
      }),
      Effect.catchAll((error) =>
        error === null ?
          failed("Timeout", `mock engine did not listen within ${Duration.format(timeout)}`) :
          Effect.fail(error)
      )
    )
    return {
      ...address,
      pid: proc.pid,
      stderrTail,
      exitCode: Effect.map(proc.exitCode, Number),
      isRunning: Effect.orElseSucceed(proc.isRunning, () => false),
      signal: (signal: NodeJS.Signals) => Effect.sync(() => process.kill(proc.pid, signal)).pipe(Effect.ignore)
    } satisfies RunningMockEngine
  })
