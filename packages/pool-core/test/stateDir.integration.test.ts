/**
 * The state directory as an attacker or a careless operator leaves it: a manager killed between a
 * spawn and its pidfile, planted pidfiles (a foreign process group, writable by others), a directory
 * of another user, two managers on one directory, files of interrupted writes, a permissive umask.
 */
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { spawn } from "node:child_process"
import { chownSync, readdirSync, readFileSync, statSync } from "node:fs"
import * as NodeProcess from "node:process"
import { EmbeddedPoolManager, PoolId, PoolManager, StateDirRefused } from "../src/index.js"
import { parseStatStartTime } from "../src/internal/processControl.js"
import { alive, awaitGone, profiles, readyPool, withManager } from "./support/harness.js"

/** The pids of processes whose environment carries exactly this engine marker. */
const markedWith = (marker: string): ReadonlyArray<number> =>
  readdirSync("/proc").filter((name) => /^\d+$/.test(name)).flatMap((name) => {
    try {
      const environ = readFileSync(`/proc/${name}/environ`, "utf8").split("\u0000")
      return environ.includes(`LLAMA_ORCH_ENGINE=${marker}`) ? [Number(name)] : []
    } catch {
      return []
    }
  })

/** A `sleep` leading its own process group, killed with the scope. */
const sacrificial = Effect.acquireRelease(
  Effect.sync(() => {
    const child = spawn("sleep", ["60"], { detached: true, stdio: "ignore" })
    child.unref()
    return child.pid ?? 0
  }),
  (pid) =>
    Effect.sync(() => {
      try {
        NodeProcess.kill(-pid, "SIGKILL")
      } catch {
        // gone already
      }
    })
)

const pidRecord = (pid: number, pgid: number) =>
  JSON.stringify({
    poolId: "planted",
    pid,
    pgid,
    startedAt: Date.now(),
    command: "sleep",
    args: ["60"],
    procStartTime: Option.getOrUndefined(parseStatStartTime(readFileSync(`/proc/${pid}/stat`, "utf8")))
  })

const mode = (path: string) => statSync(path).mode & 0o777

describe("embedded pool manager: state directory", () => {
  it.live(
    "an engine spawned by a manager killed before its pidfile is reaped by the next manager",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const executor = yield* CommandExecutor.CommandExecutor
        const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "pool-core-intent-" })
        const fixture = new URL("./fixtures/orphan-manager.ts", import.meta.url).pathname
        // the fixture kills itself (SIGKILL) right after its first spawn, before writing the pidfile
        const exit = yield* executor.exitCode(
          Command.make(NodeProcess.execPath, "--conditions=@llama-orch/source", "--import", "tsx", fixture, stateDir)
            .pipe(Command.env({ LLAMA_ORCH_TEST_CRASH_AFTER_SPAWN: "1" }))
        ).pipe(Effect.either)
        expect(exit._tag).toBe("Left")
        expect(readdirSync(`${stateDir}/run`)).toEqual(["orphan-a.intent"])
        const marker = readFileSync(`${stateDir}/run/orphan-a.intent`, "utf8")
        expect(marker).toMatch(/^orphan-a:[0-9a-f-]{36}$/)
        const orphans = markedWith(marker)
        expect(orphans).toHaveLength(1)

        yield* withManager({ stateDir }, () =>
          Effect.gen(function*() {
            yield* PoolManager
            for (const pid of orphans) expect(yield* awaitGone(pid)).toBe(true)
            expect(readdirSync(`${stateDir}/run`)).toEqual([])
          }))
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    60_000
  )

  it.live(
    "a planted pidfile never makes the reaper signal a group it did not verify, or trust a file others may write",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "pool-core-planted-" })
        const [recorded, foreignGroup, writable] = yield* Effect.all([sacrificial, sacrificial, sacrificial])
        yield* fs.makeDirectory(`${stateDir}/run`, { recursive: true })
        // the recorded pid checks out, but the file names another process group to signal
        yield* fs.writeFileString(`${stateDir}/run/foreign.json`, pidRecord(recorded, foreignGroup), { mode: 0o600 })
        // a perfectly valid record, in a file anyone may write
        yield* fs.writeFileString(`${stateDir}/run/writable.json`, pidRecord(writable, writable))
        yield* fs.chmod(`${stateDir}/run/writable.json`, 0o666)

        yield* withManager({ stateDir }, () => PoolManager)
        expect([recorded, foreignGroup, writable].filter(alive)).toEqual([recorded, foreignGroup, writable])
        // the untrusted file is left for the operator to look at
        expect(readdirSync(`${stateDir}/run`)).toEqual(["writable.json"])

        // the same valid record in a private file is reaped: the check above is not a blanket refusal
        yield* fs.chmod(`${stateDir}/run/writable.json`, 0o600)
        yield* withManager({ stateDir }, () => PoolManager)
        expect(yield* awaitGone(writable)).toBe(true)
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    60_000
  )

  it.live(
    "directories are 0700 and files 0600 whatever the umask; leftovers of interrupted writes go",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const stateDir = `${yield* fs.makeTempDirectoryScoped({ prefix: "pool-core-modes-" })}/state`
        yield* fs.makeDirectory(`${stateDir}/run`, { recursive: true })
        yield* fs.writeFileString(`${stateDir}/run/p.json.4242.x1.tmp`, "{")
        const previous = NodeProcess.umask(0)
        yield* withManager({ stateDir }, () =>
          Effect.gen(function*() {
            const handoff = yield* readyPool("fake-0")
            expect(handoff.pid).toBeGreaterThan(0)
            for (const dir of [stateDir, `${stateDir}/run`, `${stateDir}/handoff`]) expect(mode(dir)).toBe(0o700)
            expect(mode(`${stateDir}/run/fake-0.json`)).toBe(0o600)
            expect(mode(`${stateDir}/handoff/fake-0.json`)).toBe(0o600)
            expect(mode(`${stateDir}/lock`)).toBe(0o600)
            expect(readdirSync(`${stateDir}/run`).filter((f) => f.endsWith(".tmp"))).toEqual([])
          })).pipe(Effect.ensuring(Effect.sync(() => NodeProcess.umask(previous))))
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    60_000
  )

  it.live(
    "refuses a state directory of another user, and a second manager on a locked one",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const refusalOf = (stateDir: string) =>
          Layer.build(EmbeddedPoolManager.layer({ profiles, stateDir })).pipe(
            Effect.scoped,
            Effect.flip,
            Effect.provide([NodeHttpClient.layerUndici, NodeContext.layer])
          )
        const foreign = yield* fs.makeTempDirectoryScoped({ prefix: "pool-core-foreign-" })
        // as root, give the directory away; as another user, a directory of root's is foreign already
        const refused = NodeProcess.getuid?.() === 0 ? (chownSync(foreign, 65534, 65534), foreign) : "/"
        const refusal = yield* refusalOf(refused)
        expect(refusal).toBeInstanceOf(StateDirRefused)
        expect(refusal.message).toMatch(/owned by uid \d+, not by this daemon's user/)

        const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "pool-core-lock-" })
        yield* withManager({ stateDir }, () =>
          Effect.gen(function*() {
            const pools = yield* PoolManager
            const first = yield* readyPool("fake-0")
            const second = yield* refusalOf(stateDir)
            expect(second.message).toContain(`another pool manager (pid ${NodeProcess.pid}) uses it`)
            // the first manager's engine was not touched
            expect(alive(first.pid)).toBe(true)
            expect((yield* pools.status(PoolId.make("fake-0"))).ready).toBe(true)
          }))
        // released with the manager: the directory can be taken again
        yield* withManager({ stateDir }, () => PoolManager)
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    60_000
  )
})
