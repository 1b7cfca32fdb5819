/**
 * Builds the embedded `PoolManager` service: the pool registry, the change feed, registration and
 * removal, leases, and the shutdown finalizer. Lifecycle operations live in `operations.ts`,
 * supervision in `supervisor.ts`.
 *
 * @internal
 */
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Path from "@effect/platform/Path"
import * as Array from "effect/Array"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as FiberMap from "effect/FiberMap"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as SynchronizedRef from "effect/SynchronizedRef"
import * as Devices from "../Devices.js"
import type { EmbeddedOptions } from "../EmbeddedPoolManager.js"
import { EngineProfile } from "../EngineProfile.js"
import type { PoolConfiguratorService } from "../PoolConfigurator.js"
import {
  EngineNotAllowed,
  InvalidSpec,
  PoolAlreadyExists,
  PoolNotFound,
  PreloadFailed,
  ReloadFailed,
  type StateDirRefused
} from "../PoolErrors.js"
import { StatusChanged } from "../PoolEvent.js"
import type { PoolId } from "../PoolId.js"
import { ManagerHealth, type PoolManagerService } from "../PoolManager.js"
import type { PoolSpec } from "../PoolSpec.js"
import { Changes } from "./changes.js"
import { current, type ManagerContext, type Pool } from "./context.js"
import { detectEngineVersion } from "./engineVersion.js"
import { feedOf, statusesOf } from "./feed.js"
import { resolveModel } from "./launcher.js"
import { takeLease } from "./leases.js"
import * as ModelFootprints from "./modelFootprints.js"
import { makeModels } from "./models.js"
import * as Operations from "./operations.js"
import { initialData, toStatus } from "./poolState.js"
import { reapIntents, reapStaleEngines } from "./reaper.js"
import { takeStateDir } from "./stateDir.js"
import { makeStateFiles } from "./stateFiles.js"

const sameProfile = Schema.equivalence(EngineProfile)

/** The embedded manager and its configurator. */
export interface EmbeddedServices {
  readonly manager: PoolManagerService
  readonly configurator: PoolConfiguratorService
}

/** Creates the embedded manager in the current scope; closing the scope shuts it down. */
export const makeEmbeddedPoolManager = (
  options: EmbeddedOptions
): Effect.Effect<
  EmbeddedServices,
  StateDirRefused,
  Scope.Scope | CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path | HttpClient.HttpClient
> =>
  Effect.gen(function*() {
    const executor = yield* CommandExecutor.CommandExecutor
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const http = yield* HttpClient.HttpClient
    const scope = yield* Effect.scope
    // pools live in their own scope, closed only after the shutdown finalizer below has drained them
    const poolsScope = yield* Scope.fork(scope, ExecutionStrategy.parallel)
    const files = yield* makeStateFiles(options.stateDir)
    yield* takeStateDir(fs, path, options.stateDir, [files.runDir, files.handoffDir])
    yield* reapStaleEngines(fs, files, Math.min(options.stopGraceMs, 5_000))
    yield* reapIntents(fs, files, Math.min(options.stopGraceMs, 5_000))
    // engines bind where their own defaults say unless the profile passes the manager's address
    yield* Effect.forEach(
      options.profiles.filter((profile) => !profile.args.some((arg) => arg.includes("{host}"))),
      (profile) =>
        Effect.logWarning(
          `engine profile ${profile.name} has no {host} in its args: its engines listen where the engine's own default says, perhaps on every interface`
        ),
      { discard: true }
    )
    yield* clearHandoffs(fs, path, files.handoffDir)

    const versions = yield* SynchronizedRef.make(HashMap.empty<string, Deferred.Deferred<string>>())
    // detection starts for every profile at once (in the background), so Ready never waits long for it
    const versionOf = (profile: EngineProfile) =>
      SynchronizedRef.modifyEffect(versions, (known) =>
        Option.match(HashMap.get(known, profile.name), {
          onSome: (deferred) => Effect.succeed([deferred, known] as const),
          onNone: () =>
            Effect.gen(function*() {
              const deferred = yield* Deferred.make<string>()
              yield* detectEngineVersion(executor, profile, options.versionTimeoutMs).pipe(
                Effect.flatMap((version) => Deferred.succeed(deferred, version)),
                Effect.forkIn(scope)
              )
              return [deferred, HashMap.set(known, profile.name, deferred)] as const
            })
        }))
    yield* Effect.forEach(options.profiles, versionOf, { discard: true })
    const engineVersion = (profile: EngineProfile) => Effect.flatMap(versionOf(profile), Deferred.await)

    const ctx: ManagerContext = {
      options,
      executor,
      fs,
      path,
      http,
      files,
      profiles: new Map(options.profiles.map((profile) => [profile.name, profile])),
      scope,
      pools: new Map<PoolId, Pool>(),
      registryLock: yield* Effect.makeSemaphore(1),
      changes: new Changes(),
      supervisors: yield* FiberMap.make<PoolId>(),
      closing: yield* Ref.make(false),
      engineVersion,
      startedAt: yield* Clock.currentTimeMillis,
      loadTimes: new Map()
    }

    const find = (poolId: PoolId) =>
      Effect.suspend(() => {
        const pool = ctx.pools.get(poolId)
        return pool === undefined ? Effect.fail(new PoolNotFound({ poolId })) : Effect.succeed(pool)
      })

    /** Every pool's status now, ordered by pool id. */
    const statusesNow = () => statusesOf(ctx.pools.values())

    const statuses = Effect.sync(statusesNow)

    const register = (spec: PoolSpec) =>
      Effect.gen(function*() {
        const profile = ctx.profiles.get(spec.engine)
        if (profile === undefined) {
          return yield* new EngineNotAllowed({
            poolId: spec.id,
            engine: spec.engine,
            allowed: [...ctx.profiles.keys()]
          })
        }
        if (resolveModel(ctx, spec.model) === undefined) {
          return yield* new InvalidSpec({
            poolId: spec.id,
            reason: `model ${spec.model} is outside the model directory`
          })
        }
        if (yield* ctx.closing) {
          return yield* new InvalidSpec({ poolId: spec.id, reason: "the pool manager is shutting down" })
        }
        const pool = yield* ctx.registryLock.withPermits(1)(
          Effect.gen(function*() {
            if (ctx.pools.has(spec.id)) return yield* new PoolAlreadyExists({ poolId: spec.id })
            const poolScope = yield* Scope.fork(poolsScope, ExecutionStrategy.sequential)
            // engines first, so that closing the pool interrupts its operations before stopping its engines
            const engines = yield* Scope.fork(poolScope, ExecutionStrategy.parallel)
            const fibers = yield* Scope.fork(poolScope, ExecutionStrategy.parallel)
            const pool: Pool = {
              id: spec.id,
              spec,
              profile,
              data: { current: initialData(spec) },
              lock: yield* Effect.makeSemaphore(1),
              scope: poolScope,
              engines,
              fibers
            }
            // registered and announced in one step: a snapshot either shows the pool or precedes its event
            yield* Effect.sync(() => {
              ctx.pools.set(spec.id, pool)
              ctx.changes.publish(
                new StatusChanged({ status: toStatus(pool, pool.data.current), reason: "registered" })
              )
            })
            return pool
          })
        )
        if (spec.preload) {
          yield* Operations.runOperation(
            pool,
            Operations.preload(ctx, pool, { retry: true }),
            () => gone(pool)
          ).pipe(Effect.ignore, Effect.forkIn(pool.fibers))
        }
        return toStatus(pool, yield* current(pool))
      }).pipe(Effect.annotateLogs({ pool_id: spec.id, engine: spec.engine }))

    const gone = (pool: Pool) =>
      new PreloadFailed({
        poolId: pool.id,
        engine: pool.profile.name,
        kind: "SpawnFailed",
        reason: "the pool was removed"
      })

    const remove = (poolId: PoolId) =>
      Effect.gen(function*() {
        const pool = yield* find(poolId)
        yield* Operations.runOperation(
          pool,
          Effect.asVoid(Operations.drain(ctx, pool, options.shutdownDeadlineMs)),
          () => new PoolNotFound({ poolId })
        )
        yield* forget(pool)
      })

    /** Takes the pool out of the registry, stops its engine at once (interrupting its operations) and announces it. */
    const forget = (pool: Pool) =>
      Effect.uninterruptible(Effect.gen(function*() {
        const removed = yield* ctx.registryLock.withPermits(1)(
          Effect.sync(() => ctx.pools.get(pool.id) === pool && ctx.pools.delete(pool.id))
        )
        if (!removed) return
        yield* Operations.shutdownPool(ctx, pool, 0)
        yield* Effect.sync(() =>
          ctx.changes.publish(new StatusChanged({ status: toStatus(pool, pool.data.current), reason: "removed" }))
        )
        yield* ctx.files.remove(ctx.files.pidfile(pool.id))
      }))

    const lease = (poolId: PoolId) =>
      Effect.gen(function*() {
        const pool = yield* find(poolId)
        return yield* takeLease(ctx, pool, yield* ctx.closing)
      })

    const { events, watch } = feedOf(ctx.changes, statusesNow)

    const status = (poolId: PoolId) =>
      Effect.flatMap(find(poolId), (pool) => Effect.map(current(pool), (d) => toStatus(pool, d)))
    const preload = (poolId: PoolId) =>
      Effect.flatMap(
        find(poolId),
        (pool) => Operations.runOperation(pool, Operations.preload(ctx, pool, { retry: false }), () => gone(pool))
      )
    // catalogued models are placed on the configured devices, else on those nvidia-smi reports
    const devices = options.models.length === 0 ? [] : yield* Devices.resolve(options.devices).pipe(
      Effect.provideService(CommandExecutor.CommandExecutor, executor),
      Effect.catchAll((error) => Effect.as(Effect.logWarning(`no device memory accounting: ${error.message}`), []))
    )
    // footprints of catalogued models that declare none: learned in the state directory, else estimated
    const footprints = options.models.length === 0 ? undefined : yield* ModelFootprints.make({
      stateDir: options.stateDir,
      modelFile: (model) => resolveModel(ctx, model),
      healthPath: (engine) => ctx.profiles.get(engine)?.healthPath
    }).pipe(
      Effect.provideService(CommandExecutor.CommandExecutor, executor),
      Effect.provideService(HttpClient.HttpClient, ctx.http)
    )
    const catalog = yield* makeModels({
      changes: ctx.changes,
      register,
      preload,
      remove,
      discard: (poolId) =>
        Effect.suspend(() => {
          const pool = ctx.pools.get(poolId)
          return pool === undefined ? Effect.void : forget(pool)
        }),
      status,
      statuses: statusesNow
    }, { ...options, devices, footprints })

    const service: PoolManagerService = {
      register,
      remove,
      list: statuses,
      status,
      preload,
      drain: (poolId, drainOptions) =>
        Effect.flatMap(find(poolId), (pool) =>
          Operations.runOperation(
            pool,
            Operations.drain(ctx, pool, drainOptions.deadlineMs),
            () => new PoolNotFound({ poolId })
          )),
      reload: (poolId, reloadOptions) =>
        Effect.flatMap(find(poolId), (pool) =>
          Operations.runOperation(
            pool,
            Operations.reload(ctx, pool, {
              model: reloadOptions.model,
              strategy: reloadOptions.strategy ?? "replace",
              deadlineMs: reloadOptions.deadlineMs ?? options.shutdownDeadlineMs
            }),
            () => new ReloadFailed({ poolId, engine: pool.profile.name, rolledBack: false, cause: gone(pool) })
          )),
      lease,
      events,
      watch,
      health: Effect.gen(function*() {
        const all = yield* statuses
        const now = yield* Clock.currentTimeMillis
        return new ManagerHealth({
          version: options.version,
          uptimeMs: now - ctx.startedAt,
          pools: all.length,
          ready: all.filter((status) => status.ready).length
        })
      }),
      ...catalog
    }

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Ref.set(ctx.closing, true)
        const pools = Array.fromIterable(ctx.pools.values())
        yield* Effect.forEach(pools, (pool) => Operations.shutdownPool(ctx, pool, options.shutdownDeadlineMs), {
          concurrency: "unbounded",
          discard: true
        })
        yield* Effect.sync(() => ctx.changes.end())
      })
    )

    const configurator: PoolConfiguratorService = {
      profiles: Effect.sync(() => [...ctx.profiles.values()]),
      setProfiles: (profiles) =>
        Effect.gen(function*() {
          const changed = profiles.filter((profile) => {
            const before = ctx.profiles.get(profile.name)
            return before === undefined || !sameProfile(before, profile)
          })
          // a changed engine may be another version: detect it again on first use
          yield* SynchronizedRef.update(
            versions,
            (known) => changed.reduce((map, profile) => HashMap.remove(map, profile.name), known)
          )
          yield* Effect.sync(() => {
            ctx.profiles.clear()
            for (const profile of profiles) ctx.profiles.set(profile.name, profile)
          })
          yield* Effect.forEach(changed, versionOf, { discard: true })
        }),
      announce: (poolId, reason) =>
        Effect.flatMap(find(poolId), (pool) =>
          Effect.sync(() =>
            ctx.changes.publish(new StatusChanged({ status: toStatus(pool, pool.data.current), reason }))
          ))
    }

    for (const spec of options.pools) {
      yield* register(spec).pipe(Effect.orDieWith((error) =>
        new Error(error.message)
      ))
    }
    return { manager: service, configurator }
  })

const clearHandoffs = (fs: FileSystem.FileSystem, path: Path.Path, dir: string) =>
  fs.readDirectory(dir).pipe(
    Effect.flatMap((names) =>
      Effect.forEach(
        names.filter((name) => name.endsWith(".json")),
        (name) => fs.remove(path.join(dir, name), { force: true }),
        { discard: true }
      )
    ),
    Effect.ignore
  )
