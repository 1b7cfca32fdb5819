/**
 * One engine process: spawned in its own scope (and process group), its stdout and stderr drained
 * continuously into bounded buffers and the debug log, its pidfile written, and stopped with
 * SIGTERM → grace → SIGKILL when the scope closes.
 *
 * @internal
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as NodeCrypto from "node:crypto"
import * as NodeProcess from "node:process"
import type { EngineProfile } from "../EngineProfile.js"
import { PreloadFailed } from "../PoolErrors.js"
import { parseStatStartTime } from "./processControl.js"
import { appendLine, tail } from "./ringBuffer.js"
import { PidRecord, type StateFiles } from "./stateFiles.js"

/** How an engine process ended: its exit code, or the signal that killed it. */
export interface EngineExit {
  readonly exitCode: number | undefined
  readonly signal: string | undefined
}

/** A running (or exited) engine process. */
export interface EngineProcess {
  readonly pid: number
  readonly port: number
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly startedAt: number
  /** Resolves when the process has exited (and its output has been read). */
  readonly exited: Effect.Effect<EngineExit>
  /** The exit, when the process has already exited. */
  readonly exitNow: Effect.Effect<Option.Option<EngineExit>>
  /** The last lines of stderr. */
  readonly stderrTail: Effect.Effect<string>
  /** Stops the process (SIGTERM to its group, grace, SIGKILL) and removes its pidfile. Idempotent. */
  readonly stop: Effect.Effect<void>
}

/** What to spawn. `args` and `env` are final (templates already filled). */
export interface SpawnRequest {
  readonly poolId: string
  readonly profile: EngineProfile
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly port: number
  readonly stopGraceMs: number
  /** The pidfile's name: the pool id, or the pool id with a suffix for the second engine of a surge reload. */
  readonly pidfileKey: string
}

/** What spawning needs from the manager. */
export interface SpawnDeps {
  readonly executor: CommandExecutor.CommandExecutor
  readonly fs: FileSystem.FileSystem
  readonly files: StateFiles
}

/** Fills `{name}` placeholders; unknown placeholders are left as they are. */
export const renderArgs = (
  template: ReadonlyArray<string>,
  vars: Readonly<Record<string, string>>
): ReadonlyArray<string> =>
  template.map((arg) =>
    arg.replace(/\{(\w+)\}/g, (whole, name: string) => Object.hasOwn(vars, name) ? vars[name] ?? whole : whole)
  )

/**
 * The environment variable every engine carries: `<pidfile key>:<random id>`, also written to the
 * spawn's intent file, so that a manager killed between the spawn and the pidfile leaves an engine
 * the next manager can still find.
 */
export const engineMarker = "LLAMA_ORCH_ENGINE"

/** Test hook: with this variable set to `1`, the manager kills itself right after a spawn, before the pidfile. */
export const crashAfterSpawnHook = "LLAMA_ORCH_TEST_CRASH_AFTER_SPAWN"

const basePattern =
  /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|TZ|TMPDIR|LD_LIBRARY_PATH|LC_\w+|CUDA_\w+|NVIDIA_\w+|HIP_\w+|ROCR_\w+|ROCM_\w+|HSA_\w+|HF_\w+|XDG_CACHE_HOME)$/

/**
 * What an engine inherits from the daemon's environment: the search path, the user, the locale and
 * time zone, and the GPU runtime's variables (CUDA, NVIDIA, HIP/ROCm, HF caches) — never the
 * daemons' tokens or anything else. A profile's `env` adds what an engine needs beyond that.
 */
export const baseEnvironment = (environment: Readonly<Record<string, string | undefined>>): Record<string, string> => {
  const base: Record<string, string> = {}
  for (const [name, value] of Object.entries(environment)) {
    if (value !== undefined && basePattern.test(name)) base[name] = value
  }
  return base
}

/** The engine's extra environment: profile env, then spec env, then `CUDA_VISIBLE_DEVICES` from the device mask. */
export const engineEnv = (
  profileEnv: Readonly<Record<string, string>> | undefined,
  specEnv: Readonly<Record<string, string>> | undefined,
  deviceMask: string | undefined
): Record<string, string> => ({
  ...profileEnv,
  ...specEnv,
  ...(deviceMask === undefined ? {} : { CUDA_VISIBLE_DEVICES: deviceMask })
})

const signalPattern = /signal: (\w+)/

const toEngineExit = (exit: Exit.Exit<number, { readonly message: string }>): EngineExit =>
  Exit.match(exit, {
    onSuccess: (exitCode) => ({ exitCode, signal: undefined }),
    onFailure: (cause) => {
      const message = cause._tag === "Fail" ? cause.error.message : ""
      return { exitCode: undefined, signal: signalPattern.exec(message)?.[1] ?? "unknown" }
    }
  })

/** A short description of an exit for messages. */
export const describeExit = (exit: EngineExit): string =>
  exit.exitCode !== undefined ? `exited with code ${exit.exitCode}` : `was killed by ${exit.signal ?? "a signal"}`

const drainOutput = (
  stream: Stream.Stream<Uint8Array, unknown>,
  buffer: Ref.Ref<string>,
  name: "stdout" | "stderr"
) =>
  stream.pipe(
    Stream.decodeText(),
    Stream.splitLines,
    Stream.runForEach((line) =>
      Ref.update(buffer, (text) => appendLine(text, line)).pipe(
        Effect.zipRight(Effect.logDebug(line).pipe(Effect.annotateLogs("stream", name)))
      )
    ),
    Effect.ignore
  )

/**
 * Spawns an engine in a new scope under `parent`. The process lives until `stop` or until `parent`
 * closes; either way it gets SIGTERM, then SIGKILL after `stopGraceMs`.
 */
export const spawnEngine = (
  deps: SpawnDeps,
  request: SpawnRequest,
  parent: Scope.Scope
): Effect.Effect<EngineProcess, PreloadFailed> =>
  Effect.gen(function*() {
    const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
    const { profile } = request
    // intent first: a manager killed between the spawn and the pidfile leaves this file, and a
    // later manager finds the engine by the marker in its environment
    const marker = `${request.pidfileKey}:${NodeCrypto.randomUUID()}`
    const intent = deps.files.intentFile(request.pidfileKey)
    yield* deps.files.writeIntent(intent, marker)
    const command = Command.make(profile.command, ...request.args).pipe(
      Command.env({ ...baseEnvironment(NodeProcess.env), ...request.env, [engineMarker]: marker }, { extendEnv: false })
    )
    const proc = yield* deps.executor.start(command).pipe(
      Scope.extend(scope),
      Effect.mapError((error) =>
        new PreloadFailed({
          poolId: request.poolId,
          engine: profile.name,
          kind: "SpawnFailed",
          reason: `could not run ${profile.command}: ${error.message}`
        })
      ),
      Effect.tapError(() => Effect.zipRight(deps.files.remove(intent), Scope.close(scope, Exit.void)))
    )
    if (NodeProcess.env[crashAfterSpawnHook] === "1") {
      yield* Effect.sync(() => NodeProcess.kill(NodeProcess.pid, "SIGKILL"))
    }
    const pid = proc.pid
    const startedAt = Date.now()
    const stdout = yield* Ref.make("")
    const stderr = yield* Ref.make("")
    const readers = yield* Effect.all([
      drainOutput(proc.stdout, stdout, "stdout"),
      drainOutput(proc.stderr, stderr, "stderr")
    ], { concurrency: 2 }).pipe(Effect.forkIn(scope))
    const exited = yield* Deferred.make<EngineExit>()
    yield* proc.exitCode.pipe(
      Effect.exit,
      Effect.map(toEngineExit),
      // let the readers catch the last lines, but never wait on a pipe a grandchild keeps open
      Effect.tap(() => Fiber.await(readers).pipe(Effect.timeout("1 second"), Effect.ignore)),
      Effect.flatMap((exit) => Deferred.succeed(exited, exit)),
      Effect.forkIn(scope)
    )

    const procStartTime = yield* deps.fs.readFileString(`/proc/${pid}/stat`).pipe(
      Effect.map(parseStatStartTime),
      Effect.orElseSucceed(() => Option.none<string>())
    )
    const pidfile = deps.files.pidfile(request.pidfileKey)
    yield* deps.files.writePid(
      pidfile,
      new PidRecord({
        poolId: request.poolId,
        pid,
        pgid: pid,
        startedAt,
        command: profile.command,
        args: request.args,
        procStartTime: Option.getOrUndefined(procStartTime)
      })
    )
    yield* deps.files.remove(intent)

    // the executor's own kill waits for the exit without a timeout: bound it, then escalate
    const signalAndWait = (signal: "SIGTERM" | "SIGKILL", timeoutMs: number) =>
      proc.kill(signal).pipe(
        Effect.ignore,
        Effect.zipRight(Deferred.await(exited)),
        Effect.timeout(timeoutMs),
        // stops run in finalizers (uninterruptible); the timeout must still be able to cut the wait short
        Effect.interruptible,
        Effect.option,
        Effect.map(Option.isSome)
      )
    const terminate = Effect.gen(function*() {
      const running = !(yield* Deferred.isDone(exited))
      if (running && !(yield* signalAndWait("SIGTERM", request.stopGraceMs))) {
        yield* Effect.logWarning(`engine ${pid} ignored SIGTERM for ${request.stopGraceMs} ms; sending SIGKILL`)
        if (!(yield* signalAndWait("SIGKILL", 10_000))) {
          yield* Effect.logError(`engine ${pid} did not exit after SIGKILL`)
        }
      }
      yield* deps.files.remove(pidfile)
      // the counterpart of "engine started": an engine that had already exited was reported then
      if (running) yield* Effect.logInfo(`engine stopped (pid ${pid})`)
    })
    const stopped = yield* Deferred.make<void>()
    yield* Scope.addFinalizer(scope, terminate.pipe(Effect.ensuring(Deferred.succeed(stopped, undefined))))

    return {
      pid,
      port: request.port,
      command: profile.command,
      args: request.args,
      startedAt,
      exited: Deferred.await(exited),
      exitNow: Deferred.poll(exited).pipe(
        Effect.flatMap(Option.match({
          onNone: () => Effect.succeed(Option.none<EngineExit>()),
          onSome: (done) => Effect.map(done, Option.some)
        }))
      ),
      stderrTail: Effect.map(Ref.get(stderr), (text) => tail(text)),
      stop: Scope.close(scope, Exit.void).pipe(Effect.zipRight(Deferred.await(stopped)))
    }
  })
