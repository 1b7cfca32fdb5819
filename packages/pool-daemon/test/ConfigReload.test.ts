/**
 * The reloader over a pool manager without processes: the steps it runs, what it reports when one
 * fails, what it keeps in force for the next reload, and its counters.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigFile } from "@llama-orch/daemon-kit"
import { EngineProfile, PoolId, PoolManager, PoolSpec } from "@llama-orch/pool-core"
import { InMemoryPoolManager } from "@llama-orch/pool-core/testing"
import { type ConfigPlan, ConfigReload } from "@llama-orch/pool-daemon"
import { Effect, Layer, Metric, Ref } from "effect"

const engine = new EngineProfile({ name: "mock", protocol: "llamacpp", command: "mock" })
const pool = (id: string, model: string, slots = 1) =>
  PoolSpec.make({ id: PoolId.make(id), engine: "mock", model, slots })
const inputs = (pools: ReadonlyArray<PoolSpec>): ConfigPlan.Inputs => ({
  profiles: [engine],
  pools,
  reload: { strategy: "surge" },
  settings: { port: 1 }
})
const initial = inputs([pool("a", "x"), pool("b", "y")])

/** The "file": what the next reload reads (a `ConfigError` when `undefined`). */
const file = Ref.unsafeMake<ConfigPlan.Inputs | undefined>(initial)

const reloads = (result: "applied" | "failed" | "invalid") =>
  Effect.map(Metric.value(ConfigReload.metrics("test").reloads(result)), (state) => state.count)

const TestLive = ConfigReload.layer({
  source: "pools.yaml",
  load: () =>
    Effect.flatMap(
      Ref.get(file),
      (read) =>
        read === undefined ? ConfigFile.configError("pools.yaml", "pools.0.id", "is missing") : Effect.succeed(read)
    ),
  initial,
  deadlineMs: 0,
  metricPrefix: "test",
  onHangup: false
}).pipe(Layer.provideMerge(InMemoryPoolManager.layer({ pools: initial.pools, failingModels: ["bad"] })))

const outcomes = (report: ConfigReload.ReloadReport) => report.steps.map((s) => `${s.poolId} ${s.action} ${s.outcome}`)

describe("ConfigReload", () => {
  it.effect("applies, reports a failed step, keeps what failed in the plan, refuses an invalid file", () =>
    Effect.gen(function*() {
      const reloader = yield* ConfigReload.ConfigReloader
      const pools = yield* PoolManager
      const models = Effect.map(pools.list, (all) => all.map((s) => `${s.poolId}:${s.model}:${s.state}`))

      // a's model alone: a surge reload, which fails on "bad" and is rolled back
      yield* Ref.set(file, inputs([pool("a", "bad"), pool("b", "y")]))
      const failed = yield* reloader.reload
      expect(failed.result).toBe("failed")
      expect(failed.plan.pools[0]).toMatchObject({ poolId: "a", action: "reload", strategy: "surge" })
      expect(outcomes(failed)).toEqual(["a reload failed"])
      expect(failed.steps[0]?.message).toContain("reload failed and was rolled back")
      expect(yield* models).toEqual(["a:x:Ready", "b:y:Ready"])
      // still not in force: the same file plans the reload again; a fixed file applies it
      expect(outcomes(yield* reloader.reload)).toEqual(["a reload failed"])
      yield* Ref.set(file, inputs([pool("a", "x2"), pool("b", "y", 2), pool("c", "z")]))
      const applied = yield* reloader.reload
      expect(applied.result).toBe("applied")
      expect(outcomes(applied)).toEqual(["a reload done", "b restart done", "c add done"])
      expect(yield* models).toEqual(["a:x2:Ready", "b:y:Ready", "c:z:Ready"])
      expect((yield* pools.status(PoolId.make("b"))).slotsTotal).toBe(2)

      // the settings are reported on every reload, never applied; nothing else changes
      yield* Ref.set(file, { ...inputs([pool("a", "x2"), pool("b", "y", 2)]), settings: { port: 2 } })
      const removed = yield* reloader.reload
      expect(outcomes(removed)).toEqual(["c remove done"])
      expect(removed.plan.restartRequired).toEqual(["port"])
      expect((yield* reloader.reload).plan.restartRequired).toEqual(["port"])

      // a pool that could not be registered is not in force: the next reload adds it again
      const elsewhere = PoolSpec.make({ id: PoolId.make("d"), engine: "other", model: "w" })
      yield* Ref.set(file, { ...inputs([pool("a", "x2"), pool("b", "y", 2), elsewhere]), settings: { port: 2 } })
      expect(outcomes(yield* reloader.reload)).toEqual(["d add failed"])
      expect(outcomes(yield* reloader.reload)).toEqual(["d add failed"])

      yield* Ref.set(file, undefined)
      const refused = yield* Effect.flip(reloader.reload)
      expect(refused.issues).toEqual([new ConfigFile.ConfigIssue({ path: "pools.0.id", message: "is missing" })])
      expect(yield* models).toEqual(["a:x2:Ready", "b:y:Ready"])
      expect([yield* reloads("applied"), yield* reloads("failed"), yield* reloads("invalid")]).toEqual([3, 4, 1])
    }).pipe(Effect.provide(TestLive)))
})
