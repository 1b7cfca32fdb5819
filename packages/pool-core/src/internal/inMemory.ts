/**
 * The in-memory `PoolManager`: the embedded manager's state machine, leases and change feed (the
 * same modules) over scripted engines. Starting an engine takes `startupMs` on the `Clock` and fails
 * for the failing models; a test moves pools with the control.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberMap from "effect/FiberMap"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { EngineProfile } from "../EngineProfile.js"
import { type ControlService, type InMemoryOptions, ScriptedFailure } from "../InMemoryPoolManager.js"
import {
  EngineNotAllowed,
  InvalidSpec,
  PoolAlreadyExists,
  PoolNotFound,
  PreloadFailed,
  ReloadFailed
} from "../PoolErrors.js"
import { StatusChanged } from "../PoolEvent.js"
import type { PoolId } from "../PoolId.js"
import { ManagerHealth, type PoolManagerService } from "../PoolManager.js"
import type { PoolSpec } from "../PoolSpec.js"
import { Changes } from "./changes.js"
import { current, update } from "./context.js"
import { feedOf, statusesOf } from "./feed.js"
import {
  cancelRestart,
  drain,
  type MemoryContext,
  type MemoryPool,
  preload,
  promote,
  reload,
  restartAfter,
  shutdown,
  withoutEngine
} from "./inMemoryOperations.js"
import { takeLease } from "./leases.js"
import { makeModels } from "./models.js"
import { runOperation } from "./operations.js"
import { initialData, lastErrorOf, toStatus } from "./poolState.js"

/** Creates the in-memory manager and its control in the current scope. */
export const makeInMemoryPoolManager = (options: InMemoryOptions) =>
  Effect.gen(function*() {
    const managerScope = yield* Effect.scope
    const pools = new Map<PoolId, MemoryPool>()
    const profiles = new Map(options.engines.map((engine) =>
      [engine.name, EngineProfile.make({ name: engine.name, protocol: engine.protocol, command: "in-memory" })] as const
    ))
    const ctx: MemoryContext = {
      changes: new Changes(),
      options,
      failing: new Set(options.failingModels),
      state: { closing: false },
      restarts: yield* FiberMap.make<PoolId>()
    }
    const startedAt = yield* Clock.currentTimeMillis
    const statusesNow = () =>
      statusesOf(pools.values())
    const statusOf = (pool: MemoryPool) => toStatus(pool, pool.data.current)

    const find = (poolId: PoolId) =>
      Effect.suspend(() => {
        const pool = pools.get(poolId)
        return pool === undefined ? Effect.fail(new PoolNotFound({ poolId })) : Effect.succeed(pool)
      })

    const gone = (pool: MemoryPool) =>
      new PreloadFailed({
        poolId: pool.id,
        engine: pool.profile.name,
        kind: "SpawnFailed",
        reason: "the pool was removed"
      })

    const addPool = (spec: PoolSpec) =>
      Effect.gen(function*() {
        const profile = profiles.get(spec.engine)
        if (profile === undefined) {
          return yield* new EngineNotAllowed({ poolId: spec.id, engine: spec.engine, allowed: [...profiles.keys()] })
        }
        if (ctx.state.closing) {
          return yield* new InvalidSpec({ poolId: spec.id, reason: "the pool manager is shutting down" })
        }
        const scope = yield* Scope.fork(managerScope, ExecutionStrategy.parallel)
        const pool: MemoryPool = {
          id: spec.id,
          spec,
          profile,
          data: { current: initialData(spec) },
          lock: yield* Effect.makeSemaphore(1),
          fibers: scope,
          scope
        }
        // registered and announced in one step: a snapshot either shows the pool or precedes its event
        const added = yield* Effect.sync(() => {
          if (pools.has(spec.id)) return false
          pools.set(spec.id, pool)
          ctx.changes.publish(new StatusChanged({ status: statusOf(pool), reason: "registered" }))
          return true
        })
        if (!added) {
          yield* Scope.close(scope, Exit.void)
          return yield* new PoolAlreadyExists({ poolId: spec.id })
        }
        return pool
      })

    const register = (spec: PoolSpec) =>
      Effect.gen(function*() {
        const pool = yield* addPool(spec)
        const status = statusOf(pool)
        if (spec.preload) {
          yield* runOperation(pool, preload(ctx, pool), () => gone(pool)).pipe(Effect.ignore, Effect.forkIn(pool.scope))
        }
        return status
      })

    const remove = (poolId: PoolId) =>
      Effect.gen(function*() {
        const pool = yield* find(poolId)
        yield* runOperation(
          pool,
          Effect.asVoid(drain(ctx, pool, options.shutdownDeadlineMs)),
          () => new PoolNotFound({ poolId })
        )
        yield* forget(pool)
      })

    const forget = (pool: MemoryPool) =>
      Effect.uninterruptible(Effect.gen(function*() {
        const removed = yield* Effect.sync(() => pools.get(pool.id) === pool && pools.delete(pool.id))
        if (!removed) return
        yield* shutdown(ctx, pool)
        yield* update(ctx, pool, "removed", (d) => d)
      }))

    const { events, watch } = feedOf(ctx.changes, statusesNow)

    const status = (poolId: PoolId) => Effect.map(find(poolId), statusOf)
    const preloadPool = (poolId: PoolId) =>
      Effect.flatMap(find(poolId), (pool) => runOperation(pool, preload(ctx, pool), () => gone(pool)))
    const catalog = yield* makeModels({
      changes: ctx.changes,
      register,
      preload: preloadPool,
      remove,
      discard: (poolId) =>
        Effect.suspend(() => {
          const pool = pools.get(poolId)
          return pool === undefined ? Effect.void : forget(pool)
        }),
      status,
      statuses: statusesNow
    }, options)

    const service: PoolManagerService = {
      register,
      remove,
      list: Effect.sync(statusesNow),
      status,
      preload: preloadPool,
      drain: (poolId, drainOptions) =>
        Effect.flatMap(
          find(poolId),
          (pool) => runOperation(pool, drain(ctx, pool, drainOptions.deadlineMs), () => new PoolNotFound({ poolId }))
        ),
      reload: (poolId, reloadOptions) =>
        Effect.flatMap(find(poolId), (pool) =>
          runOperation(
            pool,
            reload(ctx, pool, reloadOptions),
            () => new ReloadFailed({ poolId, engine: pool.profile.name, rolledBack: false, cause: gone(pool) })
          )),
      lease: (poolId) => Effect.flatMap(find(poolId), (pool) => takeLease(ctx, pool, ctx.state.closing)),
      events,
      watch,
      health: Effect.map(Clock.currentTimeMillis, (now) => {
        const all = statusesNow()
        return new ManagerHealth({
          version: options.version,
          uptimeMs: now - startedAt,
          pools: all.length,
          ready: all.filter((status) => status.ready).length
        })
      }),
      ...catalog
    }

    /** The engine failed now: no engine, `lastError`, in `state` (with `nextRestartAt` when a restart follows). */
    const engineFailed = (
      pool: MemoryPool,
      input: ScriptedFailure | typeof ScriptedFailure.Encoded,
      state: "Failed" | "Backoff",
      restartAfterMs: number
    ) =>
      Effect.gen(function*() {
        const failure = input instanceof ScriptedFailure
          ? input
          : yield* Schema.decode(ScriptedFailure)(input).pipe(Effect.orDie)
        const now = yield* Clock.currentTimeMillis
        yield* update(ctx, pool, state === "Failed" ? "engine-failed" : "engine-exited", (data) => ({
          ...withoutEngine(data),
          state,
          lastError: lastErrorOf(failure.kind, failure.message, now, failure),
          nextRestartAt: state === "Backoff" ? now + restartAfterMs : undefined
        }))
        return statusOf(pool)
      })

    const control: ControlService = {
      setState: (poolId, state) =>
        Effect.flatMap(find(poolId), (pool) =>
          Effect.gen(function*() {
            yield* cancelRestart(ctx, pool)
            const data = yield* current(pool)
            if (state === "Ready" && data.handoff === undefined) yield* promote(ctx, pool, data.model, "set-state")
            else {
              yield* update(ctx, pool, "set-state", (d) =>
                state === "Ready"
                  ? { ...d, state, draining: false }
                  : state === "Draining"
                  ? { ...d, state, draining: true }
                  : { ...withoutEngine(d), state })
            }
            return statusOf(pool)
          })),
      fail: (poolId, input) =>
        Effect.flatMap(
          find(poolId),
          (pool) => Effect.zipRight(cancelRestart(ctx, pool), engineFailed(pool, input, "Failed", 0))
        ),
      crash: (poolId, input, restartAfterMs = 1_000) =>
        Effect.flatMap(find(poolId), (pool) =>
          Effect.tap(
            engineFailed(pool, input, "Backoff", restartAfterMs),
            () => FiberMap.run(ctx.restarts, pool.id, restartAfter(ctx, pool, restartAfterMs))
          )),
      failStarts: (model, fails) =>
        Effect.sync(() => {
          if (fails) ctx.failing.add(model)
          else ctx.failing.delete(model)
        })
    }

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        ctx.state.closing = true
        yield* Effect.forEach(pools.values(), (pool) => shutdown(ctx, pool), { discard: true })
        yield* Effect.sync(() => ctx.changes.end())
      })
    )

    for (const spec of options.pools) {
      const pool = yield* addPool(spec).pipe(Effect.orDieWith((error) => new Error(error.message)))
      if (spec.preload) yield* Effect.ignore(runOperation(pool, preload(ctx, pool, true), () => gone(pool)))
    }
    return { manager: service, control }
  })
