/**
 * Test harness for the embedded pool manager: engine profiles over the real mock engine, a
 * manager per test on a temporary state directory, and a command executor that records every
 * process the manager spawns so each test can assert that none is left behind.
 */
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { expect } from "@effect/vitest"
import { Processes } from "@llama-orch/daemon-kit"
import { mockEngineCommand, mockEngineProfileArgs } from "@llama-orch/mock-engine"
import { Context, Deferred, Effect, Layer, Logger, LogLevel, Ref, Scope, Stream } from "effect"
import * as NodeProcess from "node:process"
import {
  EmbeddedPoolManager,
  EngineProfile,
  type PoolConfigurator,
  type PoolEvent,
  PoolId,
  PoolManager,
  PoolSpec,
  type PoolStatus,
  type StateDirRefused
} from "../../src/index.js"

const mock = mockEngineCommand()

/** A profile running the mock engine with extra fault flags. */
export const mockProfile = (name: string, faults: ReadonlyArray<string> = [], withVersion = false): EngineProfile =>
  new EngineProfile({
    name,
    protocol: "llamacpp",
    command: mock.command,
    args: [...mock.args, ...mockEngineProfileArgs, ...faults],
    ...(withVersion ? { versionArgs: [...mock.args, "--version"] } : {})
  })

const fakeEngine = new URL("../fixtures/fake-engine.mjs", import.meta.url).pathname

/** A profile running the fast plain-Node fake engine (test/fixtures/fake-engine.mjs) with extra flags. */
export const fakeProfile = (name: string, faults: ReadonlyArray<string> = []): EngineProfile =>
  new EngineProfile({
    name,
    protocol: "llamacpp",
    command: NodeProcess.execPath,
    args: [fakeEngine, "--host", "{host}", "--port", "{port}", "--model", "{model}", ...faults],
    versionArgs: [fakeEngine, "--version"]
  })

/**
 * The profiles every integration test can use: the real mock engine (`mock`, `mock-crash`) and the
 * fast fake engine with one fault each.
 */
export const profiles: ReadonlyArray<EngineProfile> = [
  mockProfile("mock", [], true),
  mockProfile("mock-crash", ["--crash-on-start", "--exit-code", "3"]),
  fakeProfile("fake", ["--fail-model", "broken"]),
  fakeProfile("fake-crash", ["--crash-on-start", "--exit-code", "3"]),
  fakeProfile("fake-hang", ["--hang-health"]),
  fakeProfile("fake-ignore-term", ["--ignore-sigterm"]),
  fakeProfile("fake-flaky", ["--live-ms", "1000", "--exit-code", "7"])
]

/** A process spawned through the tracking executor. */
export interface Spawned {
  readonly pid: number
  readonly args: ReadonlyArray<string>
}

/** Every process any command spawned through the tracking executor. */
export class SpawnedPids extends Context.Tag("test/SpawnedPids")<SpawnedPids, Ref.Ref<ReadonlyArray<Spawned>>>() {}

/** The engine processes (not `--version` runs) among `spawned`. */
export const enginePids = (spawned: ReadonlyArray<Spawned>): ReadonlyArray<number> =>
  spawned.filter((p) => !p.args.includes("--version")).map((p) => p.pid)

/** A command executor that records each spawned pid in `SpawnedPids`. */
const TrackingExecutor = Layer.effect(
  CommandExecutor.CommandExecutor,
  Effect.gen(function*() {
    const inner = yield* CommandExecutor.CommandExecutor
    const pids = yield* SpawnedPids
    return CommandExecutor.makeExecutor((command) =>
      inner.start(command).pipe(
        Effect.tap((proc) =>
          Ref.update(
            pids,
            (all) => [...all, { pid: proc.pid, args: command._tag === "StandardCommand" ? command.args : [] }]
          )
        )
      )
    )
  })
)

/** True while the pid exists. */
export const alive = Processes.isAlive

/** Options of a test manager (merged over fast defaults). */
export type ManagerOverrides = Partial<EmbeddedPoolManager.EmbeddedOptionsInput>

/**
 * Runs `body` with a fresh embedded manager on a temporary state directory; afterwards (the
 * manager's scope closed) asserts that every process it spawned is gone.
 */
export const withManager = <A, E>(
  overrides: ManagerOverrides,
  body: (ctx: { readonly stateDir: string; readonly pids: Ref.Ref<ReadonlyArray<Spawned>> }) => Effect.Effect<
    A,
    E,
    PoolManager | PoolConfigurator | Scope.Scope | FileSystem.FileSystem | Path.Path
  >
): Effect.Effect<A, E | PlatformError | StateDirRefused> =>
  Effect.gen(function*() {
    const pids = yield* Ref.make<ReadonlyArray<Spawned>>([])
    const fs = yield* FileSystem.FileSystem
    const stateDir = overrides.stateDir ?? (yield* fs.makeTempDirectoryScoped({ prefix: "pool-core-test-" }))
    const manager = EmbeddedPoolManager.layer({
      profiles,
      stateDir,
      stopGraceMs: 2_000,
      shutdownDeadlineMs: 2_000,
      startupTimeoutMs: 90_000,
      ...overrides
    }).pipe(Layer.provide(TrackingExecutor), Layer.provide(Layer.succeed(SpawnedPids, pids)))
    const result = yield* Effect.scoped(body({ stateDir, pids }).pipe(Effect.provide(manager)))
    const seen = yield* Ref.get(pids)
    expect(seen.length, "the test spawned processes").toBeGreaterThan(0)
    const leftBehind = seen.map((p) => p.pid).filter(alive)
    expect(leftBehind, "processes left behind").toEqual([])
    return result
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)),
    Logger.withMinimumLogLevel(LogLevel.Error)
  )

/** Registers a pool (not preloaded at registration) and preloads it: its handoff once Ready. */
export const readyPool = (
  poolId: string,
  fields: { readonly engine?: string; readonly model?: string; readonly slots?: number } = {}
) =>
  Effect.gen(function*() {
    const pm = yield* PoolManager
    const { engine = "fake", model = "tiny", slots } = fields
    yield* pm.register(
      new PoolSpec({
        id: PoolId.make(poolId),
        engine,
        model,
        ...(slots === undefined ? {} : { slots }),
        preload: false
      })
    )
    return yield* pm.preload(PoolId.make(poolId))
  })

/** Waits (on the events stream) for the first status of `poolId` matching `predicate`. */
export const awaitStatus = (
  poolId: string,
  predicate: (status: PoolStatus) => boolean,
  timeout = "30 seconds" as const
): Effect.Effect<PoolStatus, Error, PoolManager> =>
  Effect.gen(function*() {
    const pm = yield* PoolManager
    const found = yield* pm.events.pipe(
      Stream.flatMap((event: PoolEvent) =>
        event._tag === "Snapshot" ? Stream.fromIterable(event.pools) : Stream.succeed(event.status)
      ),
      Stream.filter((status) => status.poolId === poolId && predicate(status)),
      Stream.runHead,
      Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error(`pool ${poolId}: awaited status not seen`) })
    )
    if (found._tag === "None") return yield* Effect.fail(new Error(`pool ${poolId}: events ended`))
    return found.value
  })

/** GET `url` and return the body (empty when the request fails). */
export const httpText = (url: string): Effect.Effect<string> =>
  Effect.tryPromise(() => fetch(url, { signal: AbortSignal.timeout(5_000) }).then((response) => response.text())).pipe(
    Effect.orElseSucceed(() => "")
  )

/** GET `url` and return the status code (0 when the connection fails). */
export const httpStatus = (url: string): Effect.Effect<number> =>
  Effect.tryPromise(() => fetch(url, { signal: AbortSignal.timeout(5_000) })).pipe(
    Effect.flatMap((response) => Effect.promise(() => response.arrayBuffer()).pipe(Effect.as(response.status))),
    Effect.orElseSucceed(() => 0)
  )

/** Waits until `pid` is gone (for processes that are not our children): whether it went. */
export const awaitGone = (pid: number): Effect.Effect<boolean> =>
  Processes.awaitGone(pid, { timeout: "15 seconds", interval: "25 millis" }).pipe(
    Effect.as(true),
    Effect.orElseSucceed(() => false)
  )

/**
 * Records every event of the manager from now on (the returned effect resolves once the
 * subscription's Snapshot has arrived, so no later change can be missed).
 */
export const recordEvents: Effect.Effect<Ref.Ref<ReadonlyArray<PoolEvent>>, never, PoolManager | Scope.Scope> = Effect
  .gen(function*() {
    const pm = yield* PoolManager
    const events = yield* Ref.make<ReadonlyArray<PoolEvent>>([])
    const subscribed = yield* Deferred.make<void>()
    yield* pm.events.pipe(
      Stream.runForEach((event) =>
        Ref.update(events, (all) => [...all, event]).pipe(Effect.zipRight(Deferred.succeed(subscribed, undefined)))
      ),
      Effect.forkScoped
    )
    yield* Deferred.await(subscribed)
    return events
  })

/** The statuses of `poolId` in recorded events, in order. */
export const statusesOf = (events: ReadonlyArray<PoolEvent>, poolId: string): ReadonlyArray<PoolStatus> =>
  events.flatMap((event) =>
    event._tag === "Snapshot"
      ? event.pools.filter((status) => status.poolId === poolId)
      : event.status.poolId === poolId
      ? [event.status]
      : []
  )

/** The failure with `tag` an effect was expected to end with; dies when it succeeds or fails otherwise. */
export const failureOf = <Tag extends string>(tag: Tag) =>
<A, E extends { readonly _tag: string }, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<Extract<E, { readonly _tag: Tag }>, never, R> =>
  effect.pipe(
    Effect.flip,
    Effect.orDieWith(() => new Error(`expected a ${tag} failure, got a success`)),
    Effect.filterOrDieMessage(
      (error): error is Extract<E, { readonly _tag: Tag }> => error._tag === tag,
      `expected a ${tag} failure`
    )
  )
