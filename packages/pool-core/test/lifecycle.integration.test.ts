import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, LogLevel, Ref, Schema } from "effect"
import * as NodeProcess from "node:process"
import { Handoff, PoolId, PoolManager, PoolSpec } from "../src/index.js"
import {
  alive,
  awaitStatus,
  enginePids,
  failureOf,
  httpStatus,
  recordEvents,
  statusesOf,
  withManager
} from "./support/harness.js"

const id = PoolId.make

describe("embedded pool manager: lifecycle with real engine processes", () => {
  it.live(
    "preload → Ready: handoff in status, file and event; the engine answers; concurrent preloads share one start",
    () =>
      withManager({}, ({ stateDir }) =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          const fs = yield* FileSystem.FileSystem
          const events = yield* recordEvents
          const registered = yield* pm.register(
            new PoolSpec({ id: id("p1"), engine: "mock", model: "tiny", slots: 2, preload: false })
          )
          expect(registered).toMatchObject({
            state: "Registered",
            live: false,
            ready: false,
            slotsFree: 2,
            generation: 0
          })

          const [a, b] = yield* Effect.all([pm.preload(id("p1")), pm.preload(id("p1"))], { concurrency: 2 })
          expect(b).toEqual(a)
          expect(a).toMatchObject({ poolId: "p1", engine: "mock", model: "tiny", generation: 1, slotsTotal: 2 })
          expect(yield* httpStatus(`${a.url}/health`)).toBe(200)

          const status = yield* pm.status(id("p1"))
          expect(status).toMatchObject({ state: "Ready", live: true, ready: true, draining: false, generation: 1 })
          expect(status.handoff).toEqual(a)

          const file = yield* fs.readFileString(`${stateDir}/handoff/p1.json`)
          expect(Schema.decodeUnknownSync(Schema.parseJson(Handoff))(file)).toEqual(a)
          expect((yield* fs.readDirectory(`${stateDir}/handoff`)).filter((name) => name.endsWith(".tmp"))).toEqual([])
          const pidfile = JSON.parse(yield* fs.readFileString(`${stateDir}/run/p1.json`))
          expect(pidfile).toMatchObject({ poolId: "p1", pid: a.pid, pgid: a.pid })
          expect(pidfile.procStartTime).toMatch(/^\d+$/)

          const seen = statusesOf(yield* Ref.get(events), "p1")
          // consecutive statuses of one state: the load's progress, published while Starting
          expect(seen.map((s) => s.state).filter((s, i, all) => s !== all[i - 1])).toEqual([
            "Registered",
            "Starting",
            "Ready"
          ])
          expect(seen.filter((s) => s.state === "Starting").some((s) => s.loading !== undefined)).toBe(true)
          expect(seen.at(-1)?.loading).toBeUndefined()
          expect(seen.at(-1)?.handoff).toEqual(a)
          // one start: every progress report is of the same load
          const loads = new Set(seen.flatMap((s) => s.loading === undefined ? [] : [String(s.loading.since)]))
          expect(loads.size).toBe(1)

          const logged: Array<string> = []
          const capture = Logger.replace(
            Logger.defaultLogger,
            Logger.make(({ message }) => logged.push(Array.isArray(message) ? message.join(" ") : String(message)))
          )
          yield* pm.drain(id("p1"), { deadlineMs: 1_000 }).pipe(
            Effect.provide(capture),
            Logger.withMinimumLogLevel(LogLevel.Info)
          )
          expect(logged).toContain(`engine stopped (pid ${a.pid})`)
          expect(yield* fs.exists(`${stateDir}/run/p1.json`)).toBe(false)
          expect(yield* fs.exists(`${stateDir}/handoff/p1.json`)).toBe(false)
          expect(alive(a.pid)).toBe(false)
        })),
    120_000
  )

  it.live(
    "an engine that exits at start → PreloadFailed with its exit code and stderr tail",
    () =>
      withManager({}, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          yield* pm.register(new PoolSpec({ id: id("broken"), engine: "mock-crash", model: "tiny", preload: false }))
          const error = yield* pm.preload(id("broken")).pipe(failureOf("PreloadFailed"))
          expect(error).toMatchObject({
            _tag: "PreloadFailed",
            poolId: "broken",
            engine: "mock-crash",
            kind: "EngineExited",
            exitCode: 3
          })
          expect(error.stderrTail?.length ?? 0).toBeGreaterThan(0)
          const status = yield* pm.status(id("broken"))
          expect(status).toMatchObject({ state: "Failed", live: false, ready: false })
          expect(status.lastError).toMatchObject({ kind: "EngineExited", exitCode: 3, stderrTail: error.stderrTail })
        })),
    120_000
  )

  it.live(
    "a hung health endpoint → StartupTimeout, and the process is stopped",
    () =>
      withManager({}, ({ pids }) =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          yield* pm.register(
            new PoolSpec({
              id: id("hung"),
              engine: "fake-hang",
              model: "tiny",
              startupTimeoutMs: 1_500,
              preload: false
            })
          )
          const error = yield* pm.preload(id("hung")).pipe(failureOf("PreloadFailed"))
          expect(error).toMatchObject({ _tag: "PreloadFailed", kind: "StartupTimeout" })
          expect(error.stderrTail).toContain("loading model tiny")
          expect(enginePids(yield* Ref.get(pids)).filter(alive)).toEqual([])
          expect(yield* pm.status(id("hung"))).toMatchObject({ state: "Failed", lastError: { kind: "StartupTimeout" } })
        })),
    60_000
  )

  it.live(
    "an engine killed while Ready goes to Backoff and is restarted with a new generation",
    () =>
      withManager({ restart: { baseMs: 50 } }, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          yield* pm.register(new PoolSpec({ id: id("c1"), engine: "fake", model: "tiny", preload: false }))
          const first = yield* pm.preload(id("c1"))
          NodeProcess.kill(first.pid, "SIGKILL")
          const backoff = yield* awaitStatus("c1", (s) => s.state === "Backoff")
          expect(backoff).toMatchObject({ live: false, ready: false, handoff: undefined })
          expect(backoff.nextRestartAt).toBeDefined()
          expect(backoff.lastError).toMatchObject({ kind: "EngineExited" })
          expect(backoff.lastError?.message).toContain("SIGKILL")
          const restarted = yield* awaitStatus("c1", (s) => s.state === "Ready" && s.generation === 2)
          expect(restarted.restarts).toBe(1)
          expect(restarted.nextRestartAt).toBeUndefined()
          expect(restarted.handoff?.pid).not.toBe(first.pid)
          expect(yield* httpStatus(`${restarted.handoff?.url}/health`)).toBe(200)
        })),
    60_000
  )

  it.live(
    "a crash loop opens the circuit: Failed, and no further restarts",
    () =>
      withManager({ restart: { baseMs: 20, maxFailures: 3 } }, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          const events = yield* recordEvents
          yield* pm.register(new PoolSpec({ id: id("loop"), engine: "fake-flaky", model: "tiny", preload: false }))
          yield* pm.preload(id("loop"))
          const failed = yield* awaitStatus("loop", (s) => s.state === "Failed")
          expect(failed).toMatchObject({ restarts: 2, generation: 3, nextRestartAt: undefined, live: false })
          expect(failed.lastError).toMatchObject({ kind: "EngineExited", exitCode: 7 })
          expect(failed.lastError?.stderrTail).toContain("simulated crash")
          const count = (yield* Ref.get(events)).length
          // real processes: give a restart that should not happen ample time (backoff is 20-80 ms here)
          yield* Effect.sleep("500 millis")
          expect((yield* Ref.get(events)).length).toBe(count)
          expect(yield* pm.status(id("loop"))).toMatchObject({ state: "Failed", restarts: 2 })
        })),
    60_000
  )

  it.live(
    "an engine that ignores SIGTERM is SIGKILLed after the grace period",
    () =>
      withManager({ stopGraceMs: 300 }, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          yield* pm.register(
            new PoolSpec({ id: id("stubborn"), engine: "fake-ignore-term", model: "tiny", preload: false })
          )
          const handoff = yield* pm.preload(id("stubborn"))
          const outcome = yield* pm.drain(id("stubborn"), { deadlineMs: 0 })
          expect(outcome).toMatchObject({ forceStopped: false, leasesAtDeadline: 0 })
          expect(outcome.durationMs).toBeGreaterThanOrEqual(300)
          expect(alive(handoff.pid)).toBe(false)
          expect(yield* pm.status(id("stubborn"))).toMatchObject({ state: "Stopped", draining: false, live: false })
        })),
    60_000
  )
})
