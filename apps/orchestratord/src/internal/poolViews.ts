/**
 * Pool status as the HTTP API shows it: health, summary and capabilities of a pool, with its
 * queue depth.
 *
 * @internal
 */
import type { LastError, ModelStatus, PoolStatus } from "@llama-orch/pool-core"
import * as DateTime from "effect/DateTime"
import { ModelSummary, PoolCapabilities, PoolCounters, PoolHealth, PoolLastError, PoolSummary } from "../WireSchemas.js"

/** The orchestrator's queue depth of the model a pool serves. */
export const queueDepthOf = (depths: ReadonlyMap<string, number>, status: PoolStatus): number =>
  depths.get(status.modelId ?? status.model) ?? 0

const lastError = (error: LastError | undefined): PoolLastError | undefined =>
  error === undefined ? undefined : new PoolLastError({
    kind: error.kind,
    message: error.message,
    exitCode: error.exitCode,
    stderrTail: error.stderrTail,
    at: DateTime.formatIso(error.at)
  })

const counters = (status: PoolStatus, queueDepth: number): PoolCounters =>
  new PoolCounters({
    activeLeases: status.activeLeases,
    slotsTotal: status.slotsTotal,
    slotsFree: status.slotsFree,
    queueDepth
  })

/** A pool's status as the health answer. */
export const toHealth = (status: PoolStatus, queueDepth: number): PoolHealth =>
  new PoolHealth({
    poolId: status.poolId,
    live: status.live,
    ready: status.ready,
    draining: status.draining,
    state: status.state,
    metrics: counters(status, queueDepth),
    lastError: lastError(status.lastError)
  })

/** A pool's status as an entry of the pool list (and of pool events). */
export const toSummary = (status: PoolStatus, queueDepth: number): PoolSummary =>
  new PoolSummary({
    poolId: status.poolId,
    state: status.state,
    live: status.live,
    ready: status.ready,
    draining: status.draining,
    engine: status.engine,
    engineVersion: status.engineVersion ?? status.handoff?.engineVersion,
    model: status.model,
    modelId: status.modelId,
    ctxMax: status.ctxMax,
    generation: status.generation,
    restarts: status.restarts,
    metrics: counters(status, queueDepth),
    lastError: lastError(status.lastError),
    node: status.node,
    nodeState: status.nodeState,
    loading: status.loading === undefined ? undefined : {
      elapsedMs: status.loading.elapsedMs,
      expectedMs: status.loading.expectedMs,
      fraction: status.loading.fraction,
      progress: status.loading.progress
    }
  })

/** What a pool offers, for the capabilities. */
export const toCapabilities = (status: PoolStatus): PoolCapabilities =>
  new PoolCapabilities({
    poolId: status.poolId,
    engine: status.engine,
    engineVersion: status.engineVersion ?? status.handoff?.engineVersion,
    model: status.model,
    ctxMax: status.ctxMax,
    maxTokensOut: status.ctxMax,
    slots: status.slotsTotal,
    workloads: status.protocol === "openai" ? ["completion", "chat"] : ["completion", "chat"]
  })

/** A catalogued model with its state, on the wire. */
export const toModelSummary = (model: ModelStatus): ModelSummary =>
  new ModelSummary({
    id: model.id,
    aliases: model.aliases,
    engine: model.engine,
    state: model.state,
    poolId: model.poolId,
    node: model.node,
    device: model.device,
    footprintMb: model.footprintMb,
    footprintSource: model.footprintSource,
    lastUsedAt: model.lastUsedAt === undefined ? undefined : new Date(model.lastUsedAt).toISOString(),
    loads: model.loads
  })

/** The catalogued model named `name` (its id or an alias). */
export const findModel = (models: ReadonlyArray<ModelStatus>, name: string): ModelStatus | undefined =>
  models.find((m) => m.id === name) ?? models.find((m) => m.aliases.includes(name))
