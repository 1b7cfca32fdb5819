/**
 * What every part of the embedded manager shares: its options, platform services, the pool
 * registry, the change feed, and `commit`, the one way to change a pool's state.
 *
 * @internal
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import type * as FiberMap from "effect/FiberMap"
import type * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import type { EmbeddedOptions } from "../EmbeddedPoolManager.js"
import type { EngineProfile } from "../EngineProfile.js"
import { StatusChanged } from "../PoolEvent.js"
import type { PoolId } from "../PoolId.js"
import type { Changes } from "./changes.js"
import { type PoolData, type PoolIdentity, toStatus } from "./poolState.js"
import type { StateFiles } from "./stateFiles.js"

/** A pool's identity and state: what `commit` changes (the embedded and the in-memory managers' pools). */
export interface PoolCell extends PoolIdentity {
  /** The pool's state: replaced only by `commit`, which publishes every change. */
  readonly data: { current: PoolData }
  /** Serializes lifecycle operations (preload, drain, reload, supervised restarts). */
  readonly lock: Effect.Semaphore
  /** Where operations run, so a caller going away does not cut one in half. */
  readonly fibers: Scope.Scope
}

/** One registered pool of the embedded manager at run time. */
export interface Pool extends PoolCell {
  /** Closing it interrupts the pool's operations, then stops its engines. */
  readonly scope: Scope.CloseableScope
  /** Where engines are spawned (closed after `fibers`). */
  readonly engines: Scope.Scope
}

/** What publishing a change needs: the manager's change feed. */
export interface Publisher {
  /** Every change of a pool's state, handed to the watchers in the step that makes it. */
  readonly changes: Changes
}

/** The shared state and services of one embedded manager. */
export interface ManagerContext extends Publisher {
  readonly options: EmbeddedOptions
  readonly executor: CommandExecutor.CommandExecutor
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  readonly http: HttpClient.HttpClient
  readonly files: StateFiles
  /** The profiles pools may be registered with: changed only by the configurator's `setProfiles`. */
  readonly profiles: Map<string, EngineProfile>
  readonly scope: Scope.Scope
  /** The registered pools: changed only by `register` and `remove`, under `registryLock`. */
  readonly pools: Map<PoolId, Pool>
  /** Serializes registering and removing pools. */
  readonly registryLock: Effect.Semaphore
  /** The supervisor fiber of each pool (watching a Ready engine, or waiting to restart one). */
  readonly supervisors: FiberMap.FiberMap<PoolId>
  /** Set when the manager's scope starts closing: no new leases, no new engines. */
  readonly closing: Ref.Ref<boolean>
  /** The engine version of a profile, detected once. */
  readonly engineVersion: (profile: EngineProfile) => Effect.Effect<string>
  readonly startedAt: number
  /** How long the last successful load of each engine profile + model took, in milliseconds. */
  readonly loadTimes: Map<string, number>
}

/**
 * Applies `f` to the pool's state and, when it returns a new state, publishes a `StatusChanged`
 * with `reason` — in one synchronous step, so changes never interleave and every watcher sees
 * every change exactly once after its snapshot.
 */
export const commit = <A>(
  ctx: Publisher,
  pool: PoolCell,
  reason: string,
  f: (data: PoolData) => readonly [A, PoolData | undefined]
): Effect.Effect<A> =>
  Effect.sync(() => {
    const [result, next] = f(pool.data.current)
    if (next !== undefined) {
      pool.data.current = next
      ctx.changes.publish(new StatusChanged({ status: toStatus(pool, next), reason }, true))
    }
    return result
  })

/** `commit` for a change that always applies. */
export const update = (
  ctx: Publisher,
  pool: PoolCell,
  reason: string,
  f: (data: PoolData) => PoolData
): Effect.Effect<void> => commit(ctx, pool, reason, (data) => [undefined, f(data)])

/** The pool's current state. */
export const current = (pool: PoolCell): Effect.Effect<PoolData> => Effect.sync(() => pool.data.current)
