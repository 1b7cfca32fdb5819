/**
 * The handlers of the `pools` group of the HTTP API: list, status, register, preload, drain and
 * reload through the `PoolManager` in context.
 *
 * @internal
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Orchestrator } from "@llama-orch/orchestrator-core"
import { DrainOptions, ModelRef, PoolId, PoolManager, ReloadOptions } from "@llama-orch/pool-core"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { OrchestratorApi } from "../Api.js"
import { type ApiFailure, fromPoolError, invalidParams, notFound } from "../ApiFailure.js"
import { PoolSnapshotEvent, PoolStatusEvent } from "../EventSchemas.js"
import { ServerSettings } from "../ServerSettings.js"
import * as Sse from "../Sse.js"
import {
  DrainAccepted,
  DrainRequest,
  PoolHealth,
  PoolList,
  PreloadResult,
  ReloadRequest,
  ReloadResult
} from "../WireSchemas.js"
import { readJson } from "./body.js"
import { queueDepthOf, toHealth, toSummary } from "./poolViews.js"
import { recover } from "./respond.js"

const decodePoolId = (id: string): Effect.Effect<PoolId, ApiFailure> =>
  Schema.decodeUnknown(PoolId)(id).pipe(Effect.mapError(() => notFound(`pool ${id} not found`)))

const encodeSnapshot = Schema.encodeSync(PoolSnapshotEvent)
const encodeStatus = Schema.encodeSync(PoolStatusEvent)

const json = <A, I>(schema: Schema.Schema<A, I>, value: A, status = 200) =>
  HttpServerResponse.unsafeJson(Schema.encodeSync(schema)(value), { status })

/** The handlers of `/v2/pools`: the control plane, straight onto the `PoolManager`. */
export const PoolsLive = HttpApiBuilder.group(OrchestratorApi, "pools", (handlers) =>
  Effect.gen(function*() {
    const pools = yield* PoolManager
    const orchestrator = yield* Orchestrator
    const settings = yield* ServerSettings
    const background = yield* FiberSet.make()
    // the pool manager's events as frames; a failure of the pool manager ends them with `failedName`
    const poolFrames = (failedName: Sse.FailedEventName) =>
      pools.events.pipe(
        Stream.zipWithIndex,
        Stream.mapEffect(([event, index]) =>
          Effect.map(orchestrator.queueDepths, (depths) =>
            event._tag === "Snapshot"
              ? Sse.frame(
                "snapshot",
                encodeSnapshot({ pools: event.pools.map((s) => toSummary(s, queueDepthOf(depths, s))) }),
                index + 1
              )
              : Sse.frame(
                "status",
                encodeStatus({
                  reason: event.reason,
                  pool: toSummary(event.status, queueDepthOf(depths, event.status))
                }),
                index + 1
              ))
        ),
        Stream.catchAll((error) =>
          Stream.make(
            Sse.frame(
              failedName,
              Sse.failedData({ _tag: "failed", code: "POOL_UNAVAILABLE", message: error.message, retriable: true })
            )
          )
        )
      )
    return handlers
      .handleRaw("list", () =>
        Effect.gen(function*() {
          const [statuses, depths] = yield* Effect.all([pools.list, orchestrator.queueDepths], {
            concurrency: 2
          }).pipe(Effect.mapError(fromPoolError))
          return json(PoolList, new PoolList({ pools: statuses.map((s) => toSummary(s, queueDepthOf(depths, s))) }))
        }).pipe(recover))
      .handleRaw("health", ({ path }) =>
        Effect.gen(function*() {
          const poolId = yield* decodePoolId(path.id)
          const status = yield* pools.status(poolId).pipe(Effect.mapError(fromPoolError))
          const depths = yield* orchestrator.queueDepths
          return json(PoolHealth, toHealth(status, queueDepthOf(depths, status)))
        }).pipe(recover))
      .handleRaw("preload", ({ path }) =>
        Effect.gen(function*() {
          const poolId = yield* decodePoolId(path.id)
          const handoff = yield* pools.preload(poolId).pipe(Effect.mapError(fromPoolError))
          yield* Effect.logInfo("Pool preloaded through the control plane.").pipe(
            Effect.annotateLogs({ pool_id: poolId, engine: handoff.engine })
          )
          return json(
            PreloadResult,
            new PreloadResult({
              poolId: handoff.poolId,
              engine: handoff.engine,
              engineVersion: handoff.engineVersion,
              model: handoff.model,
              generation: handoff.generation,
              url: handoff.url
            })
          )
        }).pipe(recover))
      .handleRaw("drain", ({ path }) =>
        Effect.gen(function*() {
          const poolId = yield* decodePoolId(path.id)
          const body = yield* readJson(DrainRequest)
          yield* pools.status(poolId).pipe(Effect.mapError(fromPoolError))
          yield* pools.drain(poolId, new DrainOptions({ deadlineMs: body.deadlineMs })).pipe(
            Effect.tap((outcome) =>
              Effect.logInfo(
                `Pool drained in ${Math.round(outcome.durationMs)} ms${outcome.forceStopped ? " (forced)" : ""}.`
              )
            ),
            Effect.tapError((error) => Effect.logWarning(`Pool drain failed: ${error.message}`)),
            Effect.ignore,
            Effect.annotateLogs({ pool_id: poolId }),
            FiberSet.run(background)
          )
          return json(
            DrainAccepted,
            new DrainAccepted({ poolId, draining: true, deadlineMs: body.deadlineMs }),
            202
          )
        }).pipe(recover))
      .handleRaw("reload", ({ path }) =>
        Effect.gen(function*() {
          const poolId = yield* decodePoolId(path.id)
          const body = yield* readJson(ReloadRequest)
          const model = yield* Schema.decodeUnknown(ModelRef)(body.modelRef).pipe(
            Effect.mapError(() => invalidParams("model_ref: not a valid model reference"))
          )
          const outcome = yield* pools.reload(
            poolId,
            new ReloadOptions({ model, strategy: body.strategy, deadlineMs: body.deadlineMs })
          ).pipe(Effect.mapError(fromPoolError))
          yield* Effect.logInfo(`Pool reloaded from ${outcome.fromModel} to ${outcome.toModel}.`).pipe(
            Effect.annotateLogs({ pool_id: poolId, engine: outcome.handoff.engine })
          )
          return json(
            ReloadResult,
            new ReloadResult({
              poolId: outcome.poolId,
              strategy: outcome.strategy,
              fromModel: outcome.fromModel,
              toModel: outcome.toModel,
              durationMs: outcome.durationMs,
              generation: outcome.handoff.generation
            })
          )
        }).pipe(recover))
      .handleRaw("events", ({ urlParams }) =>
        Effect.flatMap(Sse.failedEventName(urlParams), (failedName) =>
          Sse.response(poolFrames(failedName), {
            heartbeatMs: settings.heartbeatMs,
            final: Sse.shutdownFrame(failedName),
            maxBufferedBytes: settings.sseMaxBufferedBytes
          })).pipe(recover))
  }))
