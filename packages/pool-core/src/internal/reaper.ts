/**
 * The reaper: at start, kills the engines a previous run recorded in its pidfiles and left behind
 * (because it crashed or was SIGKILLed). A recorded pid is only signalled when `/proc` shows the
 * same process: the same start time and the same command line. Otherwise the pid was reused by an
 * unrelated process, which is left alone.
 *
 * @internal
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { awaitGone, isAlive, parseCmdline, parseStatStartTime, signalGroup } from "./processControl.js"
import type { PidRecord, StateFiles } from "./stateFiles.js"

/** What the reaper did with one pidfile. */
export type ReapOutcome = "reaped" | "gone" | "reused" | "unverifiable" | "unreadable"

const baseName = (file: string): string => file.slice(file.lastIndexOf("/") + 1)

/** True when `/proc/<pid>` shows the process the record describes. */
export const sameProcess = (
  record: PidRecord,
  procStartTime: Option.Option<string>,
  argv: ReadonlyArray<string>
): boolean =>
  record.procStartTime !== undefined &&
  Option.contains(procStartTime, record.procStartTime) &&
  argv.length === record.args.length + 1 &&
  baseName(argv[0] ?? "") === baseName(record.command) &&
  record.args.every((arg, i) => argv[i + 1] === arg)

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
    if (!sameProcess(record, parseStatStartTime(stat.value), parseCmdline(cmdline.value))) return "reused"
    yield* signalGroup(record.pgid, "SIGTERM")
    if (!(yield* awaitGone(record.pid, graceMs))) {
      yield* signalGroup(record.pgid, "SIGKILL")
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
        const outcome: ReapOutcome = record === undefined ? "unreadable" : yield* reapOne(fs, record, graceMs)
        const message = outcome === "reaped"
          ? `reaped engine ${record?.pid} of pool ${record?.poolId} left behind by an earlier run`
          : `removed stale pidfile ${file} (${outcome})`
        yield* outcome === "reaped" ? Effect.logInfo(message) : Effect.logDebug(message)
        yield* files.remove(file)
        return { file, outcome }
      }), { concurrency: "unbounded" })
  })
