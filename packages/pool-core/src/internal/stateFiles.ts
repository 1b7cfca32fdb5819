/**
 * The manager's files under its state directory: pidfiles (`run/<poolId>.json`) that let a later
 * run reap engines a crashed run left behind, and handoff files (`handoff/<poolId>.json`) that
 * describe Ready engines to other local tools. Every write is atomic (temporary file + rename).
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Handoff } from "../PoolStatus.js"

/** What a pidfile records about a running engine. */
export class PidRecord extends Schema.Class<PidRecord>("PidRecord")({
  poolId: Schema.String,
  pid: Schema.Int,
  pgid: Schema.Int,
  startedAt: Schema.Number,
  command: Schema.String,
  args: Schema.Array(Schema.String),
  /** Field 22 of /proc/<pid>/stat when the platform has /proc. */
  procStartTime: Schema.optional(Schema.String)
}) {}

const PidRecordJson = Schema.parseJson(PidRecord)
const HandoffJson = Schema.parseJson(Handoff)

/** File locations and atomic reads and writes under one state directory. */
export interface StateFiles {
  readonly runDir: string
  readonly handoffDir: string
  /** The pidfile of a pool's engine; `key` is the pool id, or `<poolId>+surge` for a surge reload's second engine. */
  readonly pidfile: (key: string) => string
  readonly handoffFile: (poolId: string) => string
  /** The intent file of a spawn about to happen (`run/<key>.intent`), holding the engine's marker. */
  readonly intentFile: (key: string) => string
  readonly writeIntent: (file: string, marker: string) => Effect.Effect<void>
  /** Every intent file with its marker (an unreadable one with `undefined`). */
  readonly readIntents: Effect.Effect<ReadonlyArray<{ readonly file: string; readonly marker: string | undefined }>>
  readonly writePid: (file: string, record: PidRecord) => Effect.Effect<void>
  readonly writeHandoff: (handoff: Handoff) => Effect.Effect<void>
  /** Removes a file; a missing file is fine. */
  readonly remove: (file: string) => Effect.Effect<void>
  /** Every readable pidfile with its path; unreadable ones are returned as `undefined` records. */
  readonly readPidfiles: Effect.Effect<ReadonlyArray<{ readonly file: string; readonly record: PidRecord | undefined }>>
}

/**
 * Writes `text` to `file` atomically (a private temporary file renamed over it): readers see the old
 * content or the new, never a part. Private whatever the umask: pidfiles steer the reaper, handoffs
 * name engine ports.
 */
export const writeFileAtomic = (
  fs: FileSystem.FileSystem,
  file: string,
  text: string
): Effect.Effect<void, PlatformError> =>
  Effect.gen(function*() {
    const tmp = `${file}.${process.pid}.${Date.now().toString(36)}.tmp`
    yield* fs.writeFileString(tmp, text, { mode: 0o600 })
    yield* fs.rename(tmp, file).pipe(Effect.tapError(() => fs.remove(tmp).pipe(Effect.ignore)))
  })

/** Builds the `StateFiles` of `stateDir`. Failures to write are logged, never fatal: the engine runs regardless. */
export const makeStateFiles = (stateDir: string): Effect.Effect<StateFiles, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const runDir = path.join(stateDir, "run")
    const handoffDir = path.join(stateDir, "handoff")
    const pidfile = (key: string) => path.join(runDir, `${key}.json`)
    const handoffFile = (poolId: string) => path.join(handoffDir, `${poolId}.json`)
    const intentFile = (key: string) => path.join(runDir, `${key}.intent`)

    const writeAtomic = (file: string, text: string) =>
      writeFileAtomic(fs, file, text).pipe(
        Effect.catchAll((error) => Effect.logWarning(`could not write ${file}: ${error.message}`))
      )

    const remove = (file: string) => fs.remove(file, { force: true }).pipe(Effect.ignore)

    const readPidfiles = Effect.gen(function*() {
      const names = yield* fs.readDirectory(runDir).pipe(Effect.orElseSucceed(() => []))
      const files = names.filter((name) => name.endsWith(".json")).map((name) => path.join(runDir, name))
      return yield* Effect.forEach(files, (file) =>
        fs.readFileString(file).pipe(
          Effect.flatMap(Schema.decodeUnknown(PidRecordJson)),
          Effect.map((record): PidRecord | undefined => record),
          Effect.orElseSucceed(() => undefined),
          Effect.map((record) => ({ file, record }))
        ))
    })

    const readIntents = Effect.gen(function*() {
      const names = yield* fs.readDirectory(runDir).pipe(Effect.orElseSucceed(() => []))
      const files = names.filter((name) => name.endsWith(".intent")).map((name) => path.join(runDir, name))
      return yield* Effect.forEach(files, (file) =>
        fs.readFileString(file).pipe(
          Effect.map((text): string | undefined => text.trim() === "" ? undefined : text.trim()),
          Effect.orElseSucceed(() => undefined),
          Effect.map((marker) => ({ file, marker }))
        ))
    })

    return {
      runDir,
      handoffDir,
      pidfile,
      handoffFile,
      intentFile,
      writeIntent: (file, marker) => writeAtomic(file, marker),
      readIntents,
      writePid: (file, record) =>
        Schema.encode(PidRecordJson)(record).pipe(
          Effect.orDie,
          Effect.flatMap((text) => writeAtomic(file, text))
        ),
      writeHandoff: (handoff) =>
        Schema.encode(HandoffJson)(handoff).pipe(
          Effect.orDie,
          Effect.flatMap((text) => writeAtomic(handoffFile(handoff.poolId), text))
        ),
      remove,
      readPidfiles
    }
  })
