/**
 * Integration harness: the embedded pool manager running real mock engines, the orchestrator on
 * top, real HTTP on 127.0.0.1, and a record of every spawned pid so tests can assert none is left.
 */
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import { expect } from "@effect/vitest"
import { Processes } from "@llama-orch/daemon-kit"
import { mockEngineCommand, mockEngineProfileArgs } from "@llama-orch/mock-engine"
import {
  EmbeddedPoolManager,
  EngineProfile,
  type EngineProtocol,
  PoolManager,
  type PoolStatus
} from "@llama-orch/pool-core"
import { Context, Effect, Layer, Schedule, type Scope, Stream } from "effect"
import { Orchestrator, OrchestratorOptions } from "../../src/index.js"

const mock = mockEngineCommand()

/** A profile running the real mock engine with extra flags. */
export const mockProfile = (
  name: string,
  flags: ReadonlyArray<string> = [],
  protocol: EngineProtocol = "llamacpp"
): EngineProfile =>
  new EngineProfile({ name, protocol, command: mock.command, args: [...mock.args, ...mockEngineProfileArgs, ...flags] })

/** True while the pid exists. */
export const alive = Processes.isAlive

/** The services a test body gets. */
export type Stack = Orchestrator | PoolManager | Scope.Scope

/**
 * Runs `body` with an embedded manager (the given profiles and pools) and an orchestrator; after
 * both scopes closed, asserts that every engine process spawned is gone.
 */
export const withStack = <A, E>(
  setup: {
    readonly profiles: ReadonlyArray<EngineProfile>
    readonly pools: ReadonlyArray<
      { readonly id: string; readonly engine: string; readonly model: string; readonly slots?: number }
    >
    readonly orchestrator?: ConstructorParameters<typeof OrchestratorOptions>[0]
  },
  body: Effect.Effect<A, E, Stack>
): Effect.Effect<A, E | Error> =>
  Effect.gen(function*() {
    const pids = new Set<number>()
    const fs = yield* FileSystem.FileSystem
    const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "orchestrator-test-" }).pipe(Effect.orDie)
    const tracking = Layer.effect(
      CommandExecutor.CommandExecutor,
      Effect.map(CommandExecutor.CommandExecutor, (inner) =>
        CommandExecutor.makeExecutor((command) =>
          inner.start(command).pipe(Effect.tap((proc) =>
            Effect.sync(() => pids.add(proc.pid))
          ))
        ))
    )
    const manager = EmbeddedPoolManager.layer({
      profiles: setup.profiles,
      stateDir,
      pools: setup.pools.map((p) => ({ ...p, ctxMax: 4096 })),
      stopGraceMs: 2_000,
      shutdownDeadlineMs: 1_000,
      startupTimeoutMs: 90_000,
      restart: { baseMs: 100, maxMs: 1_000 }
    }).pipe(Layer.provide(tracking))
    const stack = Orchestrator.layer(new OrchestratorOptions(setup.orchestrator ?? {})).pipe(
      Layer.provideMerge(manager)
    )
    const result = yield* Effect.scoped(
      Effect.gen(function*() {
        const pm = yield* PoolManager
        for (const p of setup.pools) yield* awaitReady(pm, p.id)
        return yield* body
      }).pipe(Effect.provide(stack))
    )
    const leftBehind = [...pids].filter(alive)
    expect(pids.size).toBeGreaterThan(0)
    expect(leftBehind, "processes left behind").toEqual([])
    return result
  }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)))

/** Waits on the events stream until the pool is Ready (with `generation` at least `minGeneration`). */
export const awaitReady = (
  pm: Context.Tag.Service<PoolManager>,
  poolId: string,
  minGeneration = 1
): Effect.Effect<PoolStatus, Error> =>
  pm.events.pipe(
    Stream.flatMap((event) =>
      event._tag === "Snapshot" ? Stream.fromIterable(event.pools) : Stream.succeed(event.status)
    ),
    Stream.filter((s) => s.poolId === poolId && s.state === "Ready" && s.generation >= minGeneration),
    Stream.runHead,
    Effect.flatMap((found) =>
      found._tag === "Some" ? Effect.succeed(found.value) : Effect.fail(new Error(`pool ${poolId}: events ended`))
    ),
    Effect.timeoutFail({ duration: "90 seconds", onTimeout: () => new Error(`pool ${poolId} did not become Ready`) }),
    Effect.mapError((e) => e instanceof Error ? e : new Error(String(e)))
  )

/** Reads the `mock_max_concurrent_requests` gauge of an engine. */
export const maxConcurrent = (url: string): Effect.Effect<number, Error> =>
  Effect.tryPromise({
    try: () => fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.text()),
    catch: (e) => new Error(`metrics of ${url}: ${String(e)}`)
  }).pipe(
    Effect.map((text) => {
      const line = text.split("\n").find((l) => l.startsWith("mock_max_concurrent_requests"))
      return Number(line?.split(" ").at(-1) ?? Number.NaN)
    }),
    Effect.retry(Schedule.recurs(3))
  )
