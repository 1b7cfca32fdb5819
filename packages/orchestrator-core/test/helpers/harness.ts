import type { PoolManagerService, PoolStatus } from "@llama-orch/pool-core"
import { Context, type Duration, Effect, Exit, Fiber, Layer, Schema, Scope, Stream, TestClock } from "effect"
import { Orchestrator, OrchestratorOptions, type SequencedEvent, TaskRequest } from "../../src/index.js"
import { fakeEngine, type Script, testPoolManager } from "./fakes.js"

/** Lets promise-based I/O (fake response bodies) make progress without moving the clock. */
export const settle = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** An orchestrator over in-memory pools and a fake engine, built in its own scope. */
export const harness = (
  pools: ReadonlyArray<PoolStatus>,
  script: (index: number) => Script,
  options: ConstructorParameters<typeof OrchestratorOptions>[0] = {},
  override: Partial<PoolManagerService> = {}
) =>
  Effect.gen(function*() {
    const manager = testPoolManager(pools, override)
    const engine = fakeEngine(script)
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      Orchestrator.layer(new OrchestratorOptions(options)).pipe(Layer.provide([manager.layer, engine.layer])),
      scope
    )
    const orchestrator = Context.get(context, Orchestrator)
    const close = Scope.close(scope, Exit.void)
    return { orchestrator, counters: manager.counters, log: engine.log, close }
  })

/** A task request from wire (snake_case) fields, validated by the schema. */
export const task = (fields: Record<string, unknown> = {}): TaskRequest =>
  Schema.decodeUnknownSync(TaskRequest)({ model_ref: "m", prompt: "hello", max_tokens: 8, ...fields })

/** Collects a task's events in a fork, moving the TestClock in steps until the stream ends. */
export const collect = (
  stream: Stream.Stream<SequencedEvent, unknown>,
  step: Duration.DurationInput = "100 millis",
  maxSteps = 10_000
) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Stream.runCollect(stream))
    for (let i = 0; i < maxSteps; i++) {
      yield* settle
      const done = yield* Fiber.poll(fiber)
      if (done._tag === "Some") break
      yield* TestClock.adjust(step)
    }
    const events = yield* Fiber.join(fiber)
    return Array.from(events)
  })

/** Drives the TestClock until `condition` holds. */
export const until = (condition: () => boolean, step: Duration.DurationInput = "10 millis", maxSteps = 10_000) =>
  Effect.gen(function*() {
    for (let i = 0; i < maxSteps && !condition(); i++) {
      yield* settle
      if (!condition()) yield* TestClock.adjust(step)
    }
  })

/** The event tags of a task's events, in order. */
export const tags = (events: ReadonlyArray<SequencedEvent>) => events.map((e) => e.event._tag)
