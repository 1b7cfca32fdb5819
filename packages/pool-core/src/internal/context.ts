/**
 * What every part of the embedded manager shares: its options, platform services, the pool
 * registry, the event hub, and `commit`, the one way to change a pool's state.
 *
 * @internal
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import type * as FiberMap from "effect/FiberMap"
import type * as HashMap from "effect/HashMap"
import * as PubSub from "effect/PubSub"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import type * as SynchronizedRef from "effect/SynchronizedRef"
import type { EmbeddedOptions } from "../EmbeddedPoolManager.js"
import type { EngineProfile } from "../EngineProfile.js"
import { StatusChanged } from "../PoolEvent.js"
import type { PoolId } from "../PoolId.js"
import { type PoolData, type PoolIdentity, toStatus } from "./poolState.js"
import type { StateFiles } from "./stateFiles.js"

/** One registered pool at run time. */
export interface Pool extends PoolIdentity {
  /** Changed only by `commit`, which publishes every change on the hub. */
  readonly data: Ref.Ref<PoolData>
  /** Serializes lifecycle operations (preload, drain, reload, supervised restarts). */
  readonly lock: Effect.Semaphore
  /** Closing it interrupts the pool's operations, then stops its engines. */
  readonly scope: Scope.CloseableScope
  /** Where engines are spawned (closed after `fibers`). */
  readonly engines: Scope.Scope
  /** Where operations run, so a caller going away does not cut one in half. */
  readonly fibers: Scope.Scope
}

/** The shared state and services of one embedded manager. */
export interface ManagerContext {
  readonly options: EmbeddedOptions
  readonly executor: CommandExecutor.CommandExecutor
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  readonly http: HttpClient.HttpClient
  readonly files: StateFiles
  readonly profiles: ReadonlyMap<string, EngineProfile>
  readonly scope: Scope.Scope
  readonly pools: SynchronizedRef.SynchronizedRef<HashMap.HashMap<PoolId, Pool>>
  readonly hub: PubSub.PubSub<StatusChanged>
  /** Held while a change is applied and published, and while a subscriber takes its snapshot. */
  readonly eventLock: Effect.Semaphore
  /** The supervisor fiber of each pool (watching a Ready engine, or waiting to restart one). */
  readonly supervisors: FiberMap.FiberMap<PoolId>
  /** Set when the manager's scope starts closing: no new leases, no new engines. */
  readonly closing: Ref.Ref<boolean>
  /** The engine version of a profile, detected once. */
  readonly engineVersion: (profile: EngineProfile) => Effect.Effect<string>
  readonly startedAt: number
}

/**
 * Applies `f` to the pool's state and, when it returns a new state, publishes a `StatusChanged`
 * with `reason` — atomically with respect to other changes and to new subscribers, so every
 * subscriber sees every change exactly once after its snapshot.
 */
export const commit = <A>(
  ctx: ManagerContext,
  pool: Pool,
  reason: string,
  f: (data: PoolData) => readonly [A, PoolData | undefined]
): Effect.Effect<A> =>
  ctx.eventLock.withPermits(1)(
    Effect.gen(function*() {
      const [result, next] = f(yield* Ref.get(pool.data))
      if (next !== undefined) {
        yield* Ref.set(pool.data, next)
        yield* PubSub.publish(ctx.hub, new StatusChanged({ status: toStatus(pool, next), reason }, true))
      }
      return result
    })
  )

/** `commit` for a change that always applies. */
export const update = (
  ctx: ManagerContext,
  pool: Pool,
  reason: string,
  f: (data: PoolData) => PoolData
): Effect.Effect<void> => commit(ctx, pool, reason, (data) => [undefined, f(data)])

/** The pool's current state. */
export const current = (pool: Pool): Effect.Effect<PoolData> => Ref.get(pool.data)
