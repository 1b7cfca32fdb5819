/**
 * The reaper: at start, kills the engines a previous run recorded in its pidfiles and left behind
 * (because it crashed or was SIGKILLed). A recorded pid is only signalled when `/proc` shows the
 * same process: the same start time and the same command line, leading its own process group
 * (engines are spawned as group leaders, so the group signalled is the verified pid's and nothing
 * else). Otherwise the pid was reused by an unrelated process, which is left alone. A pidfile this
 * user does not own, or that others may write, is not trusted at all: it is left where it is.
 *
 * @internal
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as NodeProcess from "node:process"
import { engineMarker } from "./engineProcess.js"
import {
  awaitGone,
  isAlive,
  parseCmdline,
  parseStatProcessGroup,
  parseStatStartTime,
  signalGroup
} from "./processControl.js"
import type { PidRecord, StateFiles } from "./stateFiles.js"

/** What the reaper did with one pidfile. */
export type ReapOutcome = "reaped" | "gone" | "reused" | "unverifiable" | "unreadable" | "untrusted"

const baseName = (file: string): string => file.slice(file.lastIndexOf("/") + 1)

/** True when `/proc/<pid>` shows the process the record describes, leading its own process group. */
export const sameProcess = (
  record: PidRecord,
  procStartTime: Option.Option<string>,
  argv: ReadonlyArray<string>,
  processGroup: Option.Option<number>
): boolean =>
  record.pgid === record.pid &&
  Option.contains(processGroup, record.pid) &&
  record.procStartTime !== undefined &&
  Option.contains(procStartTime, record.procStartTime) &&
  argv.length === record.args.length + 1 &&
  baseName(argv[0] ?? "") === baseName(record.command) &&
  record.args.every((arg, i) => argv[i + 1] === arg)

/** A pidfile is trusted only when this user owns it and neither group nor others may write it. */
const trusted = (fs: FileSystem.FileSystem, file: string): Effect.Effect<boolean> =>
  fs.stat(file).pipe(
    Effect.map((info) => {
      const uid = NodeProcess.getuid?.()
      const owned = uid === undefined || Option.isNone(info.uid) || info.uid.value === uid
      return owned && (info.mode & 0o022) === 0
    }),
    Effect.orElseSucceed(() => false)
  )

const reapOne = (
  fs: FileSystem.FileSystem,
  record: PidRecord,
  graceMs: number
): Effect.Effect<ReapOutcome> =>
  Effect.gen(function*() {
    if (!(yield* isAlive(record.pid))) return "gone"
    const stat = yield* fs.readFileString(`/proc/${record.pid}/stat`).pipe(Effect.option)
    const cmdline = yield* fs.readFileString(`/proc/${record.pid}/cmdline`).pipe(Effect.option)
    if (Option.isNone(stat) || Option.isNone(cmdline)) return "unverifiable"
    const verified = sameProcess(
      record,
      parseStatStartTime(stat.value),
      parseCmdline(cmdline.value),
      parseStatProcessGroup(stat.value)
    )
    if (!verified) return "reused"
    // the verified pid, never the recorded pgid: a planted `pgid: 1` must not mean every process
    yield* signalGroup(record.pid, "SIGTERM")
    if (!(yield* awaitGone(record.pid, graceMs))) {
      yield* signalGroup(record.pid, "SIGKILL")
      yield* awaitGone(record.pid, 5_000)
    }
    return "reaped"
  })

/** Reaps every stale engine recorded under the state directory and deletes the pidfiles. */
export const reapStaleEngines = (
  fs: FileSystem.FileSystem,
  files: StateFiles,
  graceMs: number
): Effect.Effect<ReadonlyArray<{ readonly file: string; readonly outcome: ReapOutcome }>> =>
  Effect.gen(function*() {
    const pidfiles = yield* files.readPidfiles
    return yield* Effect.forEach(pidfiles, ({ file, record }) =>
      Effect.gen(function*() {
        if (!(yield* trusted(fs, file))) {
          yield* Effect.logWarning(
            `ignored pidfile ${file}: it is not owned by this user or others may write it; nothing was signalled`
          )
          return { file, outcome: "untrusted" as const }
        }
        const outcome: ReapOutcome = record === undefined ? "unreadable" : yield* reapOne(fs, record, graceMs)
        const message = outcome === "reaped"
          ? `reaped engine ${record?.pid} of pool ${record?.poolId} left behind by an earlier run`
          : `removed stale pidfile ${file} (${outcome})`
        yield* outcome === "reaped" ? Effect.logInfo(message) : Effect.logDebug(message)
        yield* files.remove(file)
        return { file, outcome }
      }), { concurrency: "unbounded" })
  })

/** The pids of this user's processes whose environment carries `marker` (Linux `/proc`; none elsewhere). */
const processesMarked = (fs: FileSystem.FileSystem, marker: string): Effect.Effect<ReadonlyArray<number>> =>
  Effect.gen(function*() {
    const entries = yield* fs.readDirectory("/proc").pipe(Effect.orElseSucceed(() => []))
    const needle = `${engineMarker}=${marker}`
    const found = yield* Effect.forEach(entries.filter((name) => /^\d+$/.test(name)), (name) =>
      // another user's environ is unreadable: only this user's processes are candidates
      fs.readFileString(`/proc/${name}/environ`).pipe(
        Effect.map((environ) => environ.split("\u0000").includes(needle) ? [Number(name)] : []),
        Effect.orElseSucceed((): Array<number> => [])
      ), { concurrency: 16 })
    return found.flat()
  })

/**
 * Reaps engines whose spawn was recorded (an intent file with the engine's marker) but whose
 * pidfile never was: the manager died in between. The engines are found by the marker in their
 * environment and stopped by their own process group.
 */
export const reapIntents = (
  fs: FileSystem.FileSystem,
  files: StateFiles,
  graceMs: number
): Effect.Effect<ReadonlyArray<{ readonly file: string; readonly pids: ReadonlyArray<number> }>> =>
  Effect.gen(function*() {
    const intents = yield* files.readIntents
    return yield* Effect.forEach(intents, ({ file, marker }) =>
      Effect.gen(function*() {
        if (!(yield* trusted(fs, file))) {
          yield* Effect.logWarning(`ignored intent file ${file}: not owned by this user or writable by others`)
          return { file, pids: [] }
        }
        const pids = marker === undefined ? [] : yield* processesMarked(fs, marker)
        const leaders = yield* Effect.filter(pids, (pid) =>
          fs.readFileString(`/proc/${pid}/stat`).pipe(
            Effect.map((stat) => Option.contains(parseStatProcessGroup(stat), pid)),
            Effect.orElseSucceed(() => false)
          ))
        yield* Effect.forEach(leaders, (pid) =>
          Effect.gen(function*() {
            yield* signalGroup(pid, "SIGTERM")
            if (!(yield* awaitGone(pid, graceMs))) {
              yield* signalGroup(pid, "SIGKILL")
              yield* awaitGone(pid, 5_000)
            }
            yield* Effect.logInfo(`reaped engine ${pid} whose start an earlier run did not get to record`)
          }), { concurrency: "unbounded", discard: true })
        yield* files.remove(file)
        return { file, pids: leaders }
      }), { concurrency: "unbounded" })
  })
