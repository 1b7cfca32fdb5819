import { describe, expect, it } from "@effect/vitest"
import { Effect, Ref } from "effect"
import { PoolId, PoolManager } from "../src/index.js"
import {
  alive,
  failureOf,
  httpStatus,
  httpText,
  readyPool,
  recordEvents,
  statusesOf,
  withManager
} from "./support/harness.js"

const id = PoolId.make

describe("embedded pool manager: reload", () => {
  it.live(
    "replace: drains the old engine, starts the new model (real mock engine)",
    () =>
      withManager({}, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          const old = yield* readyPool("r1", { engine: "mock" })
          const outcome = yield* pm.reload(id("r1"), { model: "small" })
          expect(outcome).toMatchObject({ poolId: "r1", strategy: "replace", fromModel: "tiny", toModel: "small" })
          expect(outcome.handoff).toMatchObject({ model: "small", generation: 2 })
          expect(alive(old.pid)).toBe(false)
          expect(yield* httpText(`${outcome.handoff.url}/v1/models`)).toContain("small")
          expect(yield* pm.status(id("r1"))).toMatchObject({ state: "Ready", model: "small", generation: 2 })
        })),
    120_000
  )

  it.live(
    "surge: the new engine starts beside the old one, the handoff switches, the old one stops",
    () =>
      withManager({}, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          const old = yield* readyPool("s1", { slots: 2 })
          const events = yield* recordEvents
          const outcome = yield* pm.reload(id("s1"), { model: "small", strategy: "surge" })
          expect(outcome).toMatchObject({ strategy: "surge", fromModel: "tiny", toModel: "small" })
          expect(outcome.handoff).toMatchObject({ model: "small", generation: 2 })
          expect(outcome.handoff.url).not.toBe(old.url)
          expect(alive(old.pid)).toBe(false)
          expect(JSON.parse(yield* httpText(`${outcome.handoff.url}/props`))).toEqual({ model: "small" })
          // the pool served all along: every status during the surge was Ready, first on the old engine, then the new one
          const seen = statusesOf(yield* Ref.get(events), "s1")
          expect(seen.every((s) => s.state === "Ready" && s.ready)).toBe(true)
          expect(seen.map((s) => s.handoff?.pid)).toContain(old.pid)
          expect(seen.at(-1)?.handoff?.pid).toBe(outcome.handoff.pid)
        })),
    60_000
  )

  it.live(
    "replace to a model that fails to start rolls back: the old model serves again",
    () =>
      withManager({}, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          yield* readyPool("rb")
          const error = yield* pm.reload(id("rb"), { model: "broken" }).pipe(failureOf("ReloadFailed"))
          expect(error).toMatchObject({
            poolId: "rb",
            rolledBack: true,
            cause: { _tag: "PreloadFailed", kind: "EngineExited" }
          })
          const status = yield* pm.status(id("rb"))
          expect(status).toMatchObject({
            state: "Ready",
            model: "tiny",
            generation: 2,
            lastError: { kind: "ReloadFailed" }
          })
          expect(JSON.parse(yield* httpText(`${status.handoff?.url}/props`))).toEqual({ model: "tiny" })
        })),
    60_000
  )

  it.live(
    "surge to a model that fails to start: the old engine keeps serving untouched",
    () =>
      withManager({}, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          const old = yield* readyPool("sb")
          yield* pm.lease(id("sb"))
          const error = yield* pm.reload(id("sb"), { model: "broken", strategy: "surge" }).pipe(
            failureOf("ReloadFailed")
          )
          expect(error).toMatchObject({ rolledBack: true, cause: { kind: "EngineExited" } })
          const status = yield* pm.status(id("sb"))
          expect(status).toMatchObject({ state: "Ready", model: "tiny", generation: 1, activeLeases: 1 })
          expect(status.handoff).toEqual(old)
          expect(yield* httpStatus(`${old.url}/health`)).toBe(200)
        })),
    60_000
  )

  it.live(
    "reload without a model restarts the engine on the same model",
    () =>
      withManager({}, () =>
        Effect.gen(function*() {
          const pm = yield* PoolManager
          const old = yield* readyPool("same")
          const outcome = yield* pm.reload(id("same"), {})
          expect(outcome).toMatchObject({ fromModel: "tiny", toModel: "tiny", strategy: "replace" })
          expect(outcome.handoff.generation).toBe(2)
          expect(outcome.handoff.pid).not.toBe(old.pid)
          expect(alive(old.pid)).toBe(false)
        })),
    60_000
  )

  it.live("two reloads of one pool run one after the other", () =>
    withManager({}, () =>
      Effect.gen(function*() {
        const pm = yield* PoolManager
        yield* readyPool("two")
        const events = yield* recordEvents
        const [a, b] = yield* Effect.all([
          pm.reload(id("two"), { model: "a", strategy: "surge" }),
          pm.reload(id("two"), { model: "b", strategy: "surge" })
        ], { concurrency: 2 })
        expect([a.handoff.generation, b.handoff.generation].sort()).toEqual([2, 3])
        // at most two engines at any time: every switch to a new engine happened after the previous one began
        const reloads = (yield* Ref.get(events)).flatMap((e) => e._tag === "StatusChanged" ? [e.reason] : [])
        expect(reloads.filter((r) => r === "reload-starting")).toHaveLength(2)
        expect(reloads.indexOf("reloaded")).toBeLessThan(reloads.lastIndexOf("reload-starting"))
      })), 60_000)
})
