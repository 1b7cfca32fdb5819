/**
 * The model catalog on the embedded manager, counting the engine processes it spawns: callers of
 * one model share one engine start, the engine of a cancelled load is stopped, and an engine that
 * exits while it loads reaches the callers with its stderr.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Ref, Schedule } from "effect"
import { ModelLoadFailed, PoolManager } from "../src/index.js"
import { alive, awaitGone, enginePids, withManager } from "./support/harness.js"

const catalog = {
  models: [
    { id: "a", engine: "fake", model: "a.gguf", footprintMb: 1_000 },
    { id: "slow", engine: "fake", model: "slow.gguf", footprintMb: 1_000, args: ["--load-ms", "60000"] },
    {
      id: "crash",
      engine: "mock",
      model: "crash.gguf",
      footprintMb: 2_000,
      args: ["--crash-during-load", "--load-ms", "400", "--exit-code", "4"]
    }
  ],
  devices: [{ id: "0", memoryMb: 2_000 }],
  defaultMinResidencyMs: 0
}

describe("model catalog on the embedded manager", () => {
  it.live(
    "concurrent loads start one engine; a cancelled load stops its engine; a crash while loading is typed",
    () =>
      withManager(catalog, ({ pids }) =>
        Effect.gen(function*() {
          const manager = yield* PoolManager
          const engines = Effect.map(Ref.get(pids), enginePids)
          const statuses = yield* Effect.all(Array.from({ length: 5 }, () => manager.load("a")), {
            concurrency: "unbounded"
          })
          expect(yield* engines).toHaveLength(1)
          expect(new Set(statuses.map((s) => s.handoff?.pid))).toEqual(new Set(yield* engines))

          const caller = yield* Effect.fork(manager.load("slow"))
          const spawned = yield* engines.pipe(
            Effect.filterOrFail((all) => all.length === 2, () => "the slow engine is not spawned yet"),
            Effect.retry(Schedule.spaced("20 millis"))
          )
          const slowPid = spawned[1]!
          expect(alive(slowPid)).toBe(true)
          yield* Fiber.interrupt(caller)
          expect(yield* awaitGone(slowPid)).toBe(true)
          const models = yield* manager.models
          expect(models.find((m) => m.id === "slow")).toMatchObject({ state: "unloaded", loads: 0 })

          // the crashing model needs the whole device: `a` is evicted first, and its engine stopped
          const error = yield* Effect.flip(manager.load("crash"))
          expect(error).toBeInstanceOf(ModelLoadFailed)
          if (error instanceof ModelLoadFailed) {
            expect(error.reason).toContain("exit code 4")
            expect(error.stderrTail).toContain("simulated failure (--crash-during-load)")
          }
          expect(yield* awaitGone(spawned[0]!)).toBe(true)
          expect(yield* engines).toHaveLength(3)
          expect((yield* manager.models).map((m) => m.state)).toEqual(["unloaded", "unloaded", "unloaded"])
          // the crashed load freed the device
          yield* manager.load("a")
          expect(yield* engines).toHaveLength(4)
        })),
    120_000
  )
})
