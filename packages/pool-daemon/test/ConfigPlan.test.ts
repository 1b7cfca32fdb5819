/**
 * The reload plan: which pools a configuration edit touches and how, from two decoded files.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigFile } from "@llama-orch/daemon-kit"
import { ConfigPlan, PoolsConfig } from "@llama-orch/pool-daemon"
import { Effect, Schema } from "effect"

const Section = Schema.Struct({ port: Schema.optional(Schema.Number), ...PoolsConfig.fields }).pipe(
  Schema.filter(PoolsConfig.checkReferences)
)

const engines = [
  { name: "llama", command: "/usr/bin/llama-server", args: ["-m", "{model}", "--port", "{port}"] },
  { name: "mock", mock: true, args: ["--tps", "50"] }
]
const pools = [
  { id: "a", engine: "llama", model: "a.gguf", slots: 2 },
  { id: "b", engine: "mock", model: "b-model" },
  { id: "c", engine: "llama", model: "c.gguf" }
]

const inputs = (file: Record<string, unknown>) =>
  Effect.map(ConfigFile.decodeConfig(Section, { engines, pools, ...file }, "pools.yaml"), (section) => ({
    profiles: section.profiles,
    pools: section.pools,
    reload: section.reload,
    settings: { port: section.port }
  }))

const planOf = (before: Record<string, unknown>, after: Record<string, unknown>) =>
  Effect.map(Effect.all([inputs(before), inputs(after)]), ([from, to]) => {
    const plan = ConfigPlan.make(from, to)
    return {
      steps: plan.pools.map((step) =>
        `${step.poolId} ${step.action}${step.changes.length === 0 ? "" : ` ${step.changes.join(",")}`}${
          step.strategy === undefined ? "" : ` ${step.strategy}`
        }`
      ),
      restartRequired: plan.restartRequired,
      empty: ConfigPlan.isEmpty(plan)
    }
  })

describe("ConfigPlan", () => {
  it.effect("the same file changes nothing", () =>
    Effect.gen(function*() {
      expect(yield* planOf({}, {})).toEqual({
        steps: ["a unchanged", "b unchanged", "c unchanged"],
        restartRequired: [],
        empty: true
      })
    }))

  it.effect("an engine's args restart only the pools on that engine, a pool's own keys only that pool", () =>
    Effect.gen(function*() {
      const mockArgs = [engines[0], { ...engines[1], args: ["--tps", "80"] }]
      expect((yield* planOf({}, { engines: mockArgs })).steps).toEqual([
        "b restart engine.args",
        "a unchanged",
        "c unchanged"
      ])
      const slots = pools.map((p) => p.id === "c" ? { ...p, slots: 4, env: { X: "1" } } : p)
      expect((yield* planOf({}, { pools: slots })).steps).toEqual(["c restart env,slots", "a unchanged", "b unchanged"])
      // another engine for the pool: a restart on it, whatever that engine's own keys
      const moved = pools.map((p) => p.id === "b" ? { ...p, engine: "llama" } : p)
      expect((yield* planOf({}, { pools: moved })).steps).toEqual(["b restart engine", "a unchanged", "c unchanged"])
    }))

  it.effect("a model alone is a reload with the file's strategy; preload alone touches nothing", () =>
    Effect.gen(function*() {
      const model = pools.map((p) => p.id === "a" ? { ...p, model: "a2.gguf" } : p)
      expect((yield* planOf({}, { pools: model })).steps[0]).toBe("a reload model replace")
      expect((yield* planOf({}, { pools: model, reload: { strategy: "surge" } })).steps[0]).toBe(
        "a reload model surge"
      )
      const both = pools.map((p) => p.id === "a" ? { ...p, model: "a2.gguf", ctx_max: 8192 } : p)
      expect((yield* planOf({}, { pools: both })).steps[0]).toBe("a restart ctx_max,model")
      const preload = pools.map((p) => p.id === "a" ? { ...p, preload: false } : p)
      const plan = yield* planOf({}, { pools: preload })
      expect(plan.steps).toEqual(["a unchanged preload", "b unchanged", "c unchanged"])
      expect(plan.empty).toBe(true)
    }))

  it.effect("removals run first, then restarts, then additions; settings are reported, not planned", () =>
    Effect.gen(function*() {
      const edited = [
        { ...pools[0], slots: 3 },
        pools[1],
        { id: "d", engine: "mock", model: "d-model" }
      ]
      expect(yield* planOf({ port: 9200 }, { port: 9300, pools: edited })).toEqual({
        steps: ["c remove", "a restart slots", "d add", "b unchanged"],
        restartRequired: ["port"],
        empty: false
      })
    }))

  it.effect("the plan encodes with snake_case keys", () =>
    Effect.gen(function*() {
      const [from, to] = yield* Effect.all([inputs({ port: 1 }), inputs({ port: 2, pools: pools.slice(1) })])
      expect(Schema.encodeSync(ConfigPlan.ReloadPlan)(ConfigPlan.make(from, to))).toEqual({
        pools: [
          { pool_id: "a", action: "remove", changes: [] },
          { pool_id: "b", action: "unchanged", changes: [] },
          { pool_id: "c", action: "unchanged", changes: [] }
        ],
        restart_required: ["port"]
      })
    }))
})
