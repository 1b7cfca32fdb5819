/**
 * The state one pool keeps, and its projection to the public `PoolStatus`.
 *
 * @internal
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type { EngineProfile } from "../EngineProfile.js"
import { PreloadFailed } from "../PoolErrors.js"
import type { PoolId } from "../PoolId.js"
import type { PoolSpec } from "../PoolSpec.js"
import { type FailureKind, Handoff, LastError, Loading, type PoolState, PoolStatus } from "../PoolStatus.js"
import type { EngineProcess } from "./engineProcess.js"
import { isLive, type LifecycleEvent, preloadPlan, transition } from "./lifecycle.js"
import { emptyHistory, type FailureHistory } from "./restartPolicy.js"

/** An engine the pool started and promoted (or is about to promote) to Ready. */
export interface ActiveEngine {
  readonly process: EngineProcess
  readonly replicaId: string
  readonly url: string
  readonly model: string
  readonly engineVersion: string
  /** The engine's API key, when its profile uses `{api_key}`; only leases carry it. */
  readonly apiKey: Redacted.Redacted<string> | undefined
  /** The pidfile name this engine uses (see `StateFiles.pidfile`). */
  readonly pidfileKey: string
}

/** Everything a pool remembers. Changed only through the manager's `commit`, which also emits the event. */
export interface PoolData {
  readonly state: PoolState
  /** The model the pool serves (or will serve once started). */
  readonly model: string
  readonly draining: boolean
  /** Incremented each time an engine becomes Ready. */
  readonly generation: number
  /** The engine that serves (Ready/Draining) or is being started by a restart. */
  readonly engine: ActiveEngine | undefined
  readonly handoff: Handoff | undefined
  /**
   * Active leases: lease id → generation of the engine it was granted on. Leases of an engine
   * that stops are removed (invalidated), so releasing them later changes nothing.
   */
  readonly leases: HashMap.HashMap<string, number>
  readonly restarts: number
  readonly lastError: LastError | undefined
  /** Epoch ms of the scheduled restart while in Backoff. */
  readonly nextRestartAt: number | undefined
  /** Epoch ms when the current engine became Ready. */
  readonly readySince: number | undefined
  readonly engineVersion: string | undefined
  readonly history: FailureHistory
  /** An engine loading for the pool, with its progress; cleared when it is Ready or failed. */
  readonly loading: LoadingData | undefined
}

/** Progress of an engine's load (see `Loading`). */
export interface LoadingData {
  readonly since: number
  readonly elapsedMs: number
  readonly progress?: string | undefined
  readonly fraction?: number | undefined
  readonly expectedMs?: number | undefined
}

/** The part of a pool that never changes. */
export interface PoolIdentity {
  readonly id: PoolId
  readonly spec: PoolSpec
  readonly profile: EngineProfile
}

/** A freshly registered pool. */
export const initialData = (spec: PoolSpec): PoolData => ({
  state: "Registered",
  model: spec.model,
  draining: false,
  generation: 0,
  engine: undefined,
  handoff: undefined,
  leases: HashMap.empty(),
  restarts: 0,
  lastError: undefined,
  nextRestartAt: undefined,
  readySince: undefined,
  engineVersion: undefined,
  history: emptyHistory,
  loading: undefined
})

/** The state after `event`; an event the state machine does not allow leaves the state as it is. */
export const advance = (state: PoolState, event: LifecycleEvent): PoolState =>
  Option.getOrElse(transition(state, event), () => state)

/** How many leases match `predicate` (all by default). */
export const countLeases = (data: PoolData, predicate: (generation: number) => boolean = () => true): number =>
  HashMap.size(HashMap.filter(data.leases, predicate))

/** Removes the leases granted on `generation` (the engine they used is gone). */
export const invalidateLeases = (data: PoolData, generation: number): HashMap.HashMap<string, number> =>
  HashMap.filter(data.leases, (leaseGeneration) => leaseGeneration !== generation)

/** A `LastError` from a failure. */
export const lastErrorOf = (
  kind: FailureKind,
  message: string,
  at: number,
  details: { readonly exitCode?: number | undefined; readonly stderrTail?: string | undefined } = {}
): LastError =>
  new LastError({
    kind,
    message,
    exitCode: details.exitCode,
    stderrTail: details.stderrTail === "" ? undefined : details.stderrTail,
    at: DateTime.unsafeMake(at)
  })

/** The `LastError` recording a `PreloadFailed`. */
export const lastErrorOfPreload = (error: PreloadFailed, at: number): LastError =>
  lastErrorOf(error.kind, error.reason, at, { exitCode: error.exitCode, stderrTail: error.stderrTail })

const utc = (ms: number | undefined) => ms === undefined ? undefined : DateTime.unsafeMake(ms)

/** The public status of a pool. `activeLeases + slotsFree == slotsTotal` by construction (a lease
 * is only granted while `activeLeases < slotsTotal`). Built on every lease change, from state the
 * manager validated when it was written: the constructor does not validate it again. */
export const toStatus = (pool: PoolIdentity, data: PoolData): PoolStatus => {
  const activeLeases = HashMap.size(data.leases)
  const slotsTotal = pool.spec.slots
  return new PoolStatus({
    poolId: pool.id,
    state: data.state,
    live: isLive(data.state),
    ready: data.state === "Ready" && !data.draining,
    draining: data.draining,
    engine: pool.profile.name,
    protocol: pool.profile.protocol,
    engineVersion: data.engineVersion,
    model: data.model,
    modelId: pool.spec.modelId,
    ctxMax: pool.spec.ctxMax,
    deviceMask: pool.spec.deviceMask,
    slotsTotal,
    slotsFree: slotsTotal - activeLeases,
    activeLeases,
    generation: data.generation,
    handoff: data.handoff,
    restarts: data.restarts,
    lastError: data.lastError,
    nextRestartAt: utc(data.nextRestartAt),
    readySince: utc(data.readySince),
    loading: data.loading === undefined ? undefined : new Loading({
      since: DateTime.unsafeMake(data.loading.since),
      elapsedMs: data.loading.elapsedMs,
      progress: data.loading.progress,
      fraction: data.loading.fraction,
      expectedMs: data.loading.expectedMs
    }, true)
  }, true)
}

/**
 * The first step of `preload` in either manager: the handoff of a Ready pool, a refusal while
 * another operation owns the pool, or how to start it.
 */
export const preloadStep = (
  pool: PoolIdentity,
  data: PoolData
): Effect.Effect<Handoff | "start" | "start-now" | "reset-and-start", PreloadFailed> => {
  const plan = preloadPlan(data.state)
  if (plan === "handoff" && data.handoff !== undefined) return Effect.succeed(data.handoff)
  if (plan === "busy" || plan === "handoff") {
    return Effect.fail(
      new PreloadFailed({
        poolId: pool.id,
        engine: pool.profile.name,
        kind: "SpawnFailed",
        reason: `the pool is ${data.state} and cannot be started now`
      })
    )
  }
  return Effect.succeed(plan)
}
