/**
 * The model catalog of a manager at run time: `models`, `load` and `unload` over the manager's own
 * pools. A load reserves device memory (evicting idle models, see `eviction.ts`), registers a pool
 * for the model and starts it; callers of one model share one load, and a load whose callers all
 * left is cancelled. Loaded models unload after their idle TTL. The embedded and the in-memory
 * managers both run this on their pools.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as DeviceLedger from "../DeviceLedger.js"
import type { Device } from "../Devices.js"
import { type CatalogModel, ModelStatus } from "../ModelCatalog.js"
import {
  type EngineNotAllowed,
  InsufficientMemory,
  type InvalidSpec,
  ModelLoadFailed,
  ModelNotFound,
  type PoolAlreadyExists,
  type PoolNotFound,
  type PreloadFailed
} from "../PoolErrors.js"
import { PoolId } from "../PoolId.js"
import type { PoolManagerService } from "../PoolManager.js"
import { PoolSpec } from "../PoolSpec.js"
import type { Handoff, PoolStatus } from "../PoolStatus.js"
import type { Changes } from "./changes.js"
import { place, type Resident } from "./eviction.js"
import { type Entry, type LoadError, type Loading, poolIds, servedModel } from "./modelEntry.js"
import { expectedOf, type Footprints } from "./modelFootprints.js"
import { count, evictionsTotal, initCounters, loadsTotal } from "./modelMetrics.js"

/** The catalog and its policies, as the manager's options give them. */
export interface ModelsOptions {
  readonly models: ReadonlyArray<CatalogModel>
  /** The devices to account for; none (or absent): everything fits. */
  readonly devices?: ReadonlyArray<Device> | undefined
  /** Idle time after which a model is unloaded; `undefined`: never. */
  readonly defaultIdleTtlMs?: number | undefined
  readonly defaultMinResidencyMs: number
  readonly cancelAbandonedLoads: boolean
  /** Footprints of models that declare none (learned, estimated) and what engines really use. */
  readonly footprints?: Footprints | undefined
}

/** What the catalog needs of the manager's pools. */
export interface PoolsBase {
  readonly changes: Changes
  readonly register: (spec: PoolSpec) => Effect.Effect<PoolStatus, PoolAlreadyExists | EngineNotAllowed | InvalidSpec>
  readonly preload: (poolId: PoolId) => Effect.Effect<Handoff, PoolNotFound | PreloadFailed>
  /** Drains the pool, then stops and forgets it. */
  readonly remove: (poolId: PoolId) => Effect.Effect<void, PoolNotFound>
  /** Stops and forgets the pool at once, interrupting a start in progress. */
  readonly discard: (poolId: PoolId) => Effect.Effect<void>
  readonly status: (poolId: PoolId) => Effect.Effect<PoolStatus, PoolNotFound>
  readonly statuses: () => ReadonlyArray<PoolStatus>
}

/** Builds the catalog operations over `base`, in the manager's scope. */
export const makeModels = (
  base: PoolsBase,
  options: ModelsOptions
): Effect.Effect<Pick<PoolManagerService, "models" | "load" | "unload">, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const clock = yield* Effect.clock
    // the reservations, by model id: replaced as models are placed and unloaded
    let ledger = DeviceLedger.make(options.devices ?? [])
    const placeLock = yield* Effect.makeSemaphore(1)
    const joinLock = yield* Effect.makeSemaphore(1)
    const ids = poolIds(options.models)
    const entries: Array<Entry> = []
    const byName = new Map<string, Entry>()
    for (const model of options.models) {
      const entry: Entry = {
        model,
        poolId: ids.get(model.id) ?? PoolId.make(`model-${entries.length}`),
        state: "unloaded",
        gate: yield* Effect.makeSemaphore(1),
        device: undefined,
        footprint: model.footprintMb === undefined ? undefined : { mb: model.footprintMb, source: "declared" },
        loadedAt: 0,
        lastUsedAt: undefined,
        leases: 0,
        loads: 0,
        loading: undefined
      }
      entries.push(entry)
      for (const name of [model.id, ...model.aliases]) if (!byName.has(name)) byName.set(name, entry)
    }
    const byPool = new Map(entries.map((entry) => [entry.poolId as string, entry]))

    // leases taken and given back mark a model as used; a pool removed by someone else frees its memory
    const stopWatching = base.changes.add({
      onChange: (event) => {
        const entry = byPool.get(event.status.poolId)
        if (entry === undefined || entry.state === "unloaded") return
        if (event.status.activeLeases !== entry.leases) {
          entry.leases = event.status.activeLeases
          entry.lastUsedAt = clock.unsafeCurrentTimeMillis()
        }
        if (event.reason === "removed" && entry.state === "loaded") {
          entry.state = "unloaded"
          ledger = DeviceLedger.release(ledger, entry.model.id)
        }
      },
      onEnd: () => {}
    })
    yield* Effect.addFinalizer(() => Effect.sync(stopWatching))

    const minResidency = (model: CatalogModel) => model.minResidencyMs ?? options.defaultMinResidencyMs
    const residents = (): Array<Resident> =>
      entries.filter((e) => e.state === "loaded").map((e) => ({
        modelId: e.model.id,
        lastUsedAt: e.lastUsedAt ?? e.loadedAt,
        loadedAt: e.loadedAt,
        activeLeases: e.leases,
        keepLoaded: e.model.keepLoaded,
        minResidencyMs: minResidency(e.model)
      }))
    const canonical = (names: ReadonlyArray<string>) => new Set(names.map((name) => byName.get(name)?.model.id ?? name))
    const known = () => [...byName.keys(), ...base.statuses().map(servedModel)]

    /** The model is unloaded: its pool is stopped at once and its memory freed. */
    const unloaded = (entry: Entry) =>
      Effect.gen(function*() {
        yield* base.discard(entry.poolId)
        entry.state = "unloaded"
        entry.device = undefined
        entry.leases = 0
        ledger = DeviceLedger.release(ledger, entry.model.id)
      })

    /** Drains and removes a loaded model's pool. Called under `placeLock`. */
    const evict = (entry: Entry, reason: "make_room" | "idle_ttl" | "unload") =>
      Effect.gen(function*() {
        entry.state = "evicting"
        yield* Effect.logInfo(`unloading model ${entry.model.id} (${reason})`)
        yield* Effect.ignore(base.remove(entry.poolId))
        yield* unloaded(entry)
        yield* count(evictionsTotal, reason)
      }).pipe(Effect.uninterruptible, Effect.annotateLogs({ model_id: entry.model.id }))

    /** Unloads the model once it has been idle for its TTL. */
    const idleWatch = (entry: Entry, ttl: number) =>
      Effect.gen(function*() {
        const generation = entry.loads
        const current = () => entry.state === "loaded" && entry.loads === generation
        while (current()) {
          const now = yield* Clock.currentTimeMillis
          const due = (entry.lastUsedAt ?? now) + ttl
          if (entry.leases > 0 || now < due) {
            yield* Effect.sleep(entry.leases > 0 ? ttl : due - now)
            continue
          }
          yield* placeLock.withPermits(1)(
            Effect.suspend(() => current() && entry.leases === 0 ? evict(entry, "idle_ttl") : Effect.void)
          )
        }
      })

    const loadFailed = (entry: Entry, error: { readonly message: string }) =>
      new ModelLoadFailed({ modelId: entry.model.id, reason: error.message })

    /** Corrects the model's reservation by what its Ready engine uses (and remembers it). */
    const correctFootprint = (entry: Entry, handoff: Handoff) =>
      options.footprints === undefined || entry.model.footprintMb !== undefined
        ? Effect.void
        : Effect.flatMap(options.footprints.measured(entry.model, handoff), (used) =>
          Option.isNone(used) ? Effect.void : placeLock.withPermits(1)(Effect.sync(() => {
            ledger = DeviceLedger.adjust(ledger, entry.model.id, used.value)
            entry.footprint = { mb: used.value, source: "learned" }
          })))

    /** Reserves memory (evicting what must go), then starts the model's pool and waits for Ready. */
    const loadNow = (entry: Entry, keep: ReadonlyArray<string>, reason: "on_demand" | "preload") =>
      Effect.gen(function*() {
        const model = entry.model
        entry.footprint = yield* expectedOf(options.footprints, model)
        const needMb = entry.footprint?.mb ?? 0
        entry.state = "loading"
        const reservation = yield* placeLock.withPermits(1)(Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const placement = place(ledger, needMb, model.device, residents(), canonical(keep), now)
          if (placement._tag === "Blocked") {
            return yield* new InsufficientMemory({
              modelId: model.id,
              neededMb: needMb,
              freeMb: placement.freeMb,
              device: placement.device,
              reason: placement.reason
            })
          }
          for (const victim of placement.victims) {
            const other = byName.get(victim.modelId)
            if (other !== undefined) {
              yield* evict(other, "make_room")
            }
          }
          const [reservation, next] = yield* DeviceLedger.reserve(ledger, {
            key: model.id,
            needMb,
            device: model.device
          }).pipe(
            Effect.mapError((error) =>
              new InsufficientMemory({
                modelId: model.id,
                neededMb: needMb,
                freeMb: error._tag === "DeviceShortage" ? error.freeMb : 0,
                device: model.device,
                reason: error.message
              })
            )
          )
          ledger = next
          entry.device = reservation.deviceId
          return reservation
        }))
        yield* base.register(
          new PoolSpec({
            id: entry.poolId,
            engine: model.engine,
            model: model.model,
            slots: model.slots,
            ctxMax: model.ctxMax,
            args: model.args,
            modelId: model.id,
            deviceMask: DeviceLedger.placement(reservation).deviceMask,
            preload: false
          })
        ).pipe(Effect.mapError((error) =>
          loadFailed(entry, error)
        ))
        const handoff = yield* base.preload(entry.poolId).pipe(
          Effect.mapError((error) =>
            error._tag === "PreloadFailed"
              ? new ModelLoadFailed({
                modelId: model.id,
                reason: `${error.kind}: ${error.reason}${
                  error.exitCode === undefined ? "" : ` (exit code ${error.exitCode})`
                }`,
                stderrTail: error.stderrTail
              })
              : loadFailed(entry, error)
          )
        )
        yield* correctFootprint(entry, handoff)
        const now = yield* Clock.currentTimeMillis
        entry.state = "loaded"
        entry.loadedAt = now
        entry.lastUsedAt = now
        entry.loads += 1
        yield* count(loadsTotal, reason)
        const ttl = model.idleTtlMs ?? options.defaultIdleTtlMs
        if (ttl !== undefined && !model.keepLoaded) yield* Effect.forkIn(idleWatch(entry, ttl), scope)
        return yield* base.status(entry.poolId).pipe(Effect.mapError((error) => loadFailed(entry, error)))
      }).pipe(
        Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : unloaded(entry)),
        entry.gate.withPermits(1),
        Effect.annotateLogs({ model_id: entry.model.id })
      )

    /** Joins the model's load in progress, or starts one. */
    const join = (entry: Entry, keep: ReadonlyArray<string>, reason: "on_demand" | "preload") =>
      joinLock.withPermits(1)(Effect.gen(function*() {
        const running = entry.loading
        if (running !== undefined) {
          running.waiters += 1
          return running
        }
        const loading: Loading = { result: yield* Deferred.make<PoolStatus, LoadError>(), waiters: 1, fiber: undefined }
        entry.loading = loading
        loading.fiber = yield* loadNow(entry, keep, reason).pipe(
          Effect.exit,
          Effect.flatMap((exit) => Deferred.done(loading.result, exit)),
          Effect.asVoid,
          Effect.onInterrupt(() =>
            Deferred.fail(
              loading.result,
              new ModelLoadFailed({ modelId: entry.model.id, reason: "the load was cancelled" })
            )
          ),
          Effect.ensuring(Effect.sync(() => {
            if (entry.loading === loading) entry.loading = undefined
          })),
          // forked in the uninterruptible join, but cancelled by interruption
          Effect.interruptible,
          Effect.forkIn(scope)
        )
        return loading
      })).pipe(Effect.uninterruptible)

    /** Stops a load in progress (its callers get `ModelLoadFailed`). */
    const cancel = (entry: Entry, loading: Loading) =>
      Effect.suspend(() => {
        if (entry.loading === loading) entry.loading = undefined
        return loading.fiber === undefined ? Effect.void : Fiber.interrupt(loading.fiber)
      })

    const awaitLoad = (entry: Entry, loading: Loading) =>
      Deferred.await(loading.result).pipe(
        Effect.onInterrupt(() =>
          Effect.suspend(() => {
            loading.waiters -= 1
            return loading.waiters === 0 && options.cancelAbandonedLoads
              ? Effect.zipRight(
                Effect.logInfo(`every caller of the load of ${entry.model.id} left: cancelling it`),
                cancel(entry, loading)
              )
              : Effect.void
          })
        )
      )

    const loadEntry = (entry: Entry, keep: ReadonlyArray<string>) =>
      Effect.suspend(() => {
        if (entry.state === "loaded") {
          const poolId = entry.poolId
          entry.lastUsedAt = clock.unsafeCurrentTimeMillis()
          return base.status(poolId).pipe(
            Effect.flatMap((status) =>
              status.ready ? Effect.succeed(status) : Effect.zipRight(base.preload(poolId), base.status(poolId))
            ),
            Effect.mapError((error) => loadFailed(entry, error))
          )
        }
        return Effect.flatMap(join(entry, keep, "on_demand"), (loading) => awaitLoad(entry, loading))
      })

    /** A fixed pool's model: a Ready pool serving it, else its first pool started. */
    const loadFixed = (modelId: string, pools: ReadonlyArray<PoolStatus>) => {
      const ready = pools.find((status) => status.ready)
      if (ready !== undefined) return Effect.succeed(ready)
      const poolId = pools[0]!.poolId
      return Effect.zipRight(base.preload(poolId), base.status(poolId)).pipe(
        Effect.mapError((error) => new ModelLoadFailed({ modelId, reason: error.message }))
      )
    }

    const fixedPools = (modelId: string) =>
      base.statuses().filter((status) => !byPool.has(status.poolId) && servedModel(status) === modelId)

    const load: PoolManagerService["load"] = (modelId, loadOptions) =>
      Effect.suspend((): Effect.Effect<PoolStatus, LoadError | ModelNotFound> => {
        const entry = byName.get(modelId)
        if (entry !== undefined) return loadEntry(entry, loadOptions?.keep ?? [])
        const pools = fixedPools(modelId)
        return pools.length > 0
          ? loadFixed(modelId, pools)
          : Effect.fail(new ModelNotFound({ modelId, known: known() }))
      })

    const unload: PoolManagerService["unload"] = (modelId) =>
      Effect.suspend(() => {
        const entry = byName.get(modelId)
        if (entry !== undefined) {
          return Effect.zipRight(
            entry.loading === undefined ? Effect.void : cancel(entry, entry.loading),
            placeLock.withPermits(1)(
              Effect.suspend(() => entry.state === "loaded" ? evict(entry, "unload") : Effect.void)
            )
          )
        }
        const pools = fixedPools(modelId)
        return pools.length === 0
          ? Effect.fail(new ModelNotFound({ modelId, known: known() }))
          : Effect.forEach(pools, (status) => Effect.ignore(base.remove(status.poolId)), { discard: true })
      })

    const models = Effect.sync(() => {
      const out = entries.map((entry) =>
        new ModelStatus({
          id: entry.model.id,
          aliases: entry.model.aliases,
          engine: entry.model.engine,
          state: entry.state,
          poolId: entry.state === "unloaded" ? undefined : entry.poolId,
          device: entry.device ?? entry.model.device,
          footprintMb: entry.footprint?.mb,
          footprintSource: entry.footprint?.source,
          lastUsedAt: entry.lastUsedAt,
          loads: entry.loads
        })
      )
      const listed = new Set(out.map((status) => status.id))
      for (const status of base.statuses()) {
        const id = servedModel(status)
        if (byPool.has(status.poolId) || listed.has(id)) continue
        listed.add(id)
        out.push(
          new ModelStatus({
            id,
            aliases: [],
            engine: status.engine,
            state: "loaded",
            poolId: status.poolId,
            loads: 0,
            fixed: true
          })
        )
      }
      return out.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
    })

    if (entries.length > 0) yield* initCounters
    // pinned models are loaded at start, in the background
    yield* Effect.forEach(
      entries.filter((entry) => entry.model.keepLoaded),
      (entry) =>
        join(entry, [], "preload").pipe(
          Effect.flatMap((loading) => Deferred.await(loading.result)),
          Effect.tapError((error) => Effect.logWarning(`could not preload model ${entry.model.id}: ${error.message}`)),
          Effect.ignore,
          Effect.forkIn(scope)
        ),
      { discard: true }
    )

    return { models, load, unload }
  })
