/**
 * Taking the state directory: created private (0700) whatever the umask, refused when another user
 * owns it, and locked for one manager at a time — two managers on one directory would reap each
 * other's engines. The lock is a file holding the owner's pid and process start time, put in place
 * with `link()` (which fails when the file exists), taken over only from an owner that is verifiably
 * gone, and removed when the manager's scope closes. Leftover temporary files of interrupted atomic
 * writes are removed once the lock is held.
 *
 * @internal
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as NodeProcess from "node:process"
import { StateDirRefused } from "../PoolErrors.js"
import { isAlive, parseStatStartTime } from "./processControl.js"

const LockRecord = Schema.parseJson(Schema.Struct({ pid: Schema.Int, procStartTime: Schema.optional(Schema.String) }))

/** This process's uid, where the platform has one. */
export const currentUid = (): number | undefined => NodeProcess.getuid?.()

/** The start time of `pid` from `/proc`, when the platform has it. */
export const procStartTime = (fs: FileSystem.FileSystem, pid: number): Effect.Effect<Option.Option<string>> =>
  fs.readFileString(`/proc/${pid}/stat`).pipe(
    Effect.map(parseStatStartTime),
    Effect.orElseSucceed(() => Option.none<string>())
  )

/** Creates `dir` (and parents) private to this user: 0700 whatever the umask or an earlier mode. */
const privateDirectory = (fs: FileSystem.FileSystem, stateDir: string, dir: string) =>
  fs.makeDirectory(dir, { recursive: true, mode: 0o700 }).pipe(
    Effect.zipRight(fs.chmod(dir, 0o700)),
    Effect.mapError((error) => new StateDirRefused({ stateDir, reason: `cannot create ${dir}: ${error.message}` }))
  )

/** Refuses a directory that another user owns (they could plant pidfiles and read handoffs). */
const ensureOwned = (fs: FileSystem.FileSystem, stateDir: string) =>
  Effect.gen(function*() {
    const info = yield* fs.stat(stateDir).pipe(
      Effect.mapError((error) => new StateDirRefused({ stateDir, reason: `cannot read it: ${error.message}` }))
    )
    const uid = currentUid()
    if (uid !== undefined && Option.isSome(info.uid) && info.uid.value !== uid) {
      return yield* new StateDirRefused({
        stateDir,
        reason: `it is owned by uid ${info.uid.value}, not by this daemon's user (uid ${uid}); ` +
          `use a directory of this user, such as one under $XDG_STATE_HOME or /var/lib`
      })
    }
  })

/** Whether the lock's recorded owner still runs (the same process: same pid and start time). */
const ownerRuns = (fs: FileSystem.FileSystem, record: typeof LockRecord.Type) =>
  Effect.gen(function*() {
    if (!(yield* isAlive(record.pid))) return false
    const started = yield* procStartTime(fs, record.pid)
    return record.procStartTime === undefined || Option.isNone(started) || started.value === record.procStartTime
  })

/** Takes the lock of `stateDir` for the current scope. */
const lock = (fs: FileSystem.FileSystem, path: Path.Path, stateDir: string) =>
  Effect.gen(function*() {
    const file = path.join(stateDir, "lock")
    const mine = yield* Schema.encode(LockRecord)({
      pid: NodeProcess.pid,
      procStartTime: Option.getOrUndefined(yield* procStartTime(fs, NodeProcess.pid))
    }).pipe(Effect.orDie)
    const tmp = `${file}.${NodeProcess.pid}.tmp`
    const refuse = (reason: string) => new StateDirRefused({ stateDir, reason })
    yield* fs.writeFileString(tmp, mine, { mode: 0o600 }).pipe(
      Effect.mapError((error) => refuse(`cannot write its lock: ${error.message}`))
    )
    const taken = yield* fs.link(tmp, file).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
    if (!taken) {
      const held = yield* fs.readFileString(file).pipe(
        Effect.flatMap(Schema.decodeUnknown(LockRecord)),
        Effect.option
      )
      if (Option.isSome(held) && (yield* ownerRuns(fs, held.value))) {
        yield* fs.remove(tmp).pipe(Effect.ignore)
        return yield* refuse(`another pool manager (pid ${held.value.pid}) uses it; one manager per state directory`)
      }
      // the owner is gone: take the lock over in one step, then make sure no other taker won
      yield* fs.rename(tmp, file).pipe(Effect.mapError((error) => refuse(`cannot take its lock: ${error.message}`)))
      const now = yield* fs.readFileString(file).pipe(Effect.orElseSucceed(() => ""))
      if (now !== mine) return yield* refuse("another pool manager took it at the same moment")
    }
    yield* fs.remove(tmp).pipe(Effect.ignore)
    yield* Effect.addFinalizer(() =>
      fs.readFileString(file).pipe(
        Effect.flatMap((text) => text === mine ? fs.remove(file) : Effect.void),
        Effect.ignore
      )
    )
  })

/** Removes the temporary files of atomic writes that an earlier run left behind (`*.tmp`). */
const removeStaleTemporaries = (fs: FileSystem.FileSystem, path: Path.Path, dirs: ReadonlyArray<string>) =>
  Effect.forEach(dirs, (dir) =>
    fs.readDirectory(dir).pipe(
      Effect.orElseSucceed((): ReadonlyArray<string> => []),
      Effect.flatMap((names) =>
        Effect.forEach(
          names.filter((name) => name.endsWith(".tmp")),
          (name) =>
            fs.remove(path.join(dir, name)).pipe(
              Effect.zipRight(Effect.logDebug(`removed ${name}, left by an interrupted write`)),
              Effect.ignore
            ),
          { discard: true }
        )
      )
    ), { discard: true })

/**
 * Takes `stateDir` for this manager: creates it and its `run/` and `handoff/` directories 0700,
 * refuses it when another user owns it or another manager holds its lock, locks it until the scope
 * closes, and removes stale temporary files.
 */
export const takeStateDir = (
  fs: FileSystem.FileSystem,
  path: Path.Path,
  stateDir: string,
  dirs: ReadonlyArray<string>
): Effect.Effect<void, StateDirRefused, Scope.Scope> =>
  Effect.gen(function*() {
    yield* fs.makeDirectory(stateDir, { recursive: true, mode: 0o700 }).pipe(
      Effect.mapError((error) => new StateDirRefused({ stateDir, reason: `cannot create it: ${error.message}` }))
    )
    yield* ensureOwned(fs, stateDir)
    yield* privateDirectory(fs, stateDir, stateDir)
    yield* lock(fs, path, stateDir)
    yield* Effect.forEach(dirs, (dir) => privateDirectory(fs, stateDir, dir), { discard: true })
    yield* removeStaleTemporaries(fs, path, [stateDir, ...dirs])
  })
