import { describe, expect, it } from "@effect/vitest"
import { CatalogModel, Devices, LoadOptions, PoolManager, type PoolManagerService } from "@llama-orch/pool-core"
import { InMemoryPoolManager } from "@llama-orch/pool-core/testing"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { Orchestrator, OrchestratorOptions } from "../src/index.js"
import { fakeEngine, llamaTokens } from "./helpers/fakes.js"
import { collect, settle, tags, task, until } from "./helpers/harness.js"

/** Load calls the orchestrator made: model, keep, and whether the call was interrupted. */
interface LoadCall {
  readonly model: string
  readonly keep: ReadonlyArray<string>
  interrupted: boolean
}

/** An orchestrator over the in-memory manager's catalog (a, b: 600 MB each on one 1000 MB device). */
const onDemand = (
  options: ConstructorParameters<typeof OrchestratorOptions>[0] = {},
  startupMs = 1_000,
  script: Parameters<typeof fakeEngine>[0] = () => llamaTokens(["x", "y"])
) =>
  Effect.gen(function*() {
    const calls: Array<LoadCall> = []
    const scope = yield* Scope.make()
    const managerLayer = Layer.scoped(
      PoolManager,
      Effect.gen(function*() {
        const { manager } = yield* InMemoryPoolManager.make({
          engines: [{ name: "fake", protocol: "llamacpp" }],
          engineUrl: "http://engine.test",
          startupMs,
          failingModels: ["broken.gguf"],
          defaultMinResidencyMs: 0,
          devices: [Devices.Device.make({ id: "0", memoryMb: 1000 })],
          models: [
            CatalogModel.make({
              id: "a",
              aliases: ["alias-a"],
              engine: "fake",
              model: "a.gguf",
              slots: 2,
              footprintMb: 600
            }),
            CatalogModel.make({ id: "b", engine: "fake", model: "b.gguf", slots: 2, footprintMb: 600 }),
            CatalogModel.make({ id: "broken", engine: "fake", model: "broken.gguf", footprintMb: 100 })
          ]
        })
        const load: PoolManagerService["load"] = (model, loadOptions) => {
          const call: LoadCall = { model, keep: loadOptions?.keep ?? [], interrupted: false }
          calls.push(call)
          return manager.load(model, loadOptions ?? new LoadOptions({})).pipe(
            Effect.onInterrupt(() => Effect.sync(() => call.interrupted = true))
          )
        }
        return { ...manager, load }
      })
    )
    const engine = fakeEngine(script)
    const context = yield* Layer.buildWithScope(
      Orchestrator.layer(new OrchestratorOptions(options)).pipe(
        Layer.provideMerge(managerLayer),
        Layer.provide(engine.layer)
      ),
      scope
    )
    return {
      orchestrator: Context.get(context, Orchestrator),
      pools: Context.get(context, PoolManager),
      calls,
      close: Scope.close(scope, Exit.void)
    }
  })

describe("models loaded on demand", () => {
  it.effect("a task for a catalogued model (by alias) loads it; concurrent tasks share one load", () =>
    Effect.gen(function*() {
      const h = yield* onDemand()
      const admissions = yield* Effect.all([1, 2, 3].map(() => h.orchestrator.submit(task({ model_ref: "alias-a" }))))
      const events = yield* Effect.all(admissions.map((a) => collect(h.orchestrator.events(a.taskId))))
      for (const e of events) expect(tags(e).at(-1)).toBe("end")
      expect(h.calls.map((c) => c.model)).toEqual(["a"])
      expect((yield* h.pools.models).find((m) => m.id === "a")?.state).toBe("loaded")
      yield* h.close
    }))

  it.effect("the last waiter leaving interrupts the load", () =>
    Effect.gen(function*() {
      const h = yield* onDemand({}, 60_000)
      const first = yield* h.orchestrator.submit(task({ model_ref: "a" }))
      const second = yield* h.orchestrator.submit(task({ model_ref: "a" }))
      yield* until(() => h.calls.length > 0)
      yield* h.orchestrator.cancel(first.taskId)
      yield* settle
      expect(h.calls[0]?.interrupted).toBe(false)
      yield* h.orchestrator.cancel(second.taskId)
      // (the in-memory manager's start ends before the interruption is through)
      yield* until(() => h.calls[0]?.interrupted === true, "1 second")
      expect(h.calls).toEqual([{ model: "a", keep: [], interrupted: true }])
      yield* h.close
    }))

  it.effect("a task waits for a load up to max_load_wait_ms, or its deadline when sooner", () =>
    Effect.gen(function*() {
      const h = yield* onDemand({ maxLoadWaitMs: 2_000 }, 60_000)
      const waited = yield* h.orchestrator.submit(task({ model_ref: "a" }))
      const deadline = yield* h.orchestrator.submit(task({ model_ref: "a", deadline_ms: 500 }))
      const [byWait, byDeadline] = yield* Effect.all([
        collect(h.orchestrator.events(waited.taskId)),
        collect(h.orchestrator.events(deadline.taskId))
      ])
      expect(byDeadline.at(-1)?.event).toMatchObject({ _tag: "failed", code: "DECODE_TIMEOUT", retriable: false })
      expect(byWait.at(-1)?.event).toMatchObject({
        _tag: "failed",
        code: "MODEL_LOAD_FAILED",
        retriable: true,
        message: expect.stringContaining("max_load_wait_ms (2000 ms)")
      })
      // nobody waits any more: the load was interrupted
      yield* until(() => h.calls[0]?.interrupted === true, "1 second")
      expect(h.calls[0]?.interrupted).toBe(true)
      yield* h.close
    }))

  it.effect("a failed load ends the model's queued tasks with MODEL_LOAD_FAILED", () =>
    Effect.gen(function*() {
      const h = yield* onDemand()
      const admissions = yield* Effect.all([1, 2].map(() => h.orchestrator.submit(task({ model_ref: "broken" }))))
      const events = yield* Effect.all(admissions.map((a) => collect(h.orchestrator.events(a.taskId))))
      for (const e of events) {
        expect(e.at(-1)?.event).toMatchObject({
          _tag: "failed",
          code: "MODEL_LOAD_FAILED",
          retriable: false,
          message: expect.stringContaining("model broken failed to load")
        })
      }
      expect(h.calls.map((c) => c.model)).toEqual(["broken"])
      yield* h.close
    }))

  it.effect("a load keeps the models with work until they drain or its oldest task ages", () =>
    Effect.gen(function*() {
      // the first request (model a) streams until cancelled; every other one answers at once
      const h = yield* onDemand(
        { modelAgingMs: 5_000 },
        1_000,
        (i) => i === 0 ? { events: [], then: "hang" } : llamaTokens(["x"])
      )
      const streaming = yield* h.orchestrator.submit(task({ model_ref: "a" }))
      yield* until(() => h.calls.length === 1 && h.calls[0]?.interrupted === false)
      yield* until(() => false, "100 millis", 15)
      const waiting = yield* h.orchestrator.submit(task({ model_ref: "b" }))
      yield* until(() => h.calls.length === 2)
      // a has work: b's load keeps it, so the manager refuses it rather than evicting a
      expect(h.calls[1]).toMatchObject({ model: "b", keep: ["a"] })
      yield* until(() => false, "100 millis", 30)
      expect(h.calls).toHaveLength(2)
      // aged: b's load keeps nothing (a's stream still holds its lease: refused again)
      yield* until(() => h.calls.length === 3, "100 millis", 30)
      expect(h.calls[2]).toMatchObject({ model: "b", keep: [] })
      // a's stream ends: its pool can go, and b loads and runs
      yield* h.orchestrator.cancel(streaming.taskId)
      const events = yield* collect(h.orchestrator.events(waiting.taskId))
      expect(tags(events).at(-1)).toBe("end")
      expect(h.calls.at(-1)).toMatchObject({ model: "b", keep: [] })
      expect((yield* h.pools.models).find((m) => m.id === "a")?.state).toBe("unloaded")
      yield* h.close
    }))
})
