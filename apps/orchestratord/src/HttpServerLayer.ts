/**
 * The routes of orchestratord as one `HttpLayerRouter` layer: the `HttpApi` (with
 * `/openapi.json`), `/metrics`, the docs page `/docs`, the status page `/ui`, and the global middleware that gives every response its
 * `X-Correlation-Id`, checks the bearer token, and turns unknown routes and defects into typed
 * error envelopes (never an empty 404 or a bare 500).
 *
 * @since 0.1.0
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { RequestGuard } from "@llama-orch/daemon-kit"
import * as PrometheusMetrics from "@llama-orch/daemon-kit/PrometheusMetrics"
import { OrchestratorMetrics } from "@llama-orch/orchestrator-core"
import { PoolAuth, PoolManager } from "@llama-orch/pool-core"
import { PoolMetrics } from "@llama-orch/pool-daemon"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { randomUUID } from "node:crypto"
import { OrchestratorApi } from "./Api.js"
import { type ApiFailure, fromRefusal, internal, notFound, unauthorized } from "./ApiFailure.js"
import * as DocsPage from "./DocsPage.js"
import { toResponseFor } from "./ErrorResponses.js"
import { AdminLive } from "./internal/adminHandlers.js"
import { MetaLive } from "./internal/metaHandlers.js"
import { ModelsLive } from "./internal/modelsHandlers.js"
import { OpenAiLive } from "./internal/openAiHandlers.js"
import { PoolsLive } from "./internal/poolsHandlers.js"
import { TasksLive } from "./internal/tasksHandlers.js"
import { ServerSettings } from "./ServerSettings.js"
import * as StatusPage from "./StatusPage.js"

/**
 * The header carrying the correlation id, echoed when the client sends a valid one.
 *
 * @since 0.1.0
 */
export const correlationHeader = "x-correlation-id"

const validCorrelationId = /^[A-Za-z0-9._:-]{1,128}$/
/**
 * The paths served without the bearer token: liveness, readiness, metrics, the OpenAPI document,
 * the docs page and the status page with their assets (none of them tells more than the published
 * API; the status page reads the pools and tasks with the token the operator gives it).
 *
 * @since 0.1.0
 */
export const publicPaths: ReadonlySet<string> = new Set([
  "/health",
  "/ready",
  "/metrics",
  "/openapi.json",
  ...DocsPage.paths,
  ...StatusPage.paths
])

const pathOf = (url: string): string => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

const annotateFiber = (key: string, value: string) =>
  FiberRef.update(FiberRef.currentLogAnnotations, (annotations) => HashMap.set(annotations, key, value))

const isRouteNotFound = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "RouteNotFound"

/**
 * The global middleware: correlation id, the request guard (`Host`, `Origin`, body media type, CORS),
 * bearer auth, typed 404 and 500.
 *
 * @since 0.1.0
 */
export const GlobalMiddleware = HttpLayerRouter.middleware(
  Effect.gen(function*() {
    const { guard, token } = yield* ServerSettings
    return (httpEffect) =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
        const incoming = request.headers[correlationHeader]
        const correlationId = incoming !== undefined && validCorrelationId.test(incoming) ? incoming : randomUUID()
        // the request has a fiber of its own: annotate it for good rather than `annotateLogs`,
        // whose restore on exit costs an acquire-use-release per request
        return Effect.zipRight(
          annotateFiber("correlation_id", correlationId),
          Effect.gen(function*() {
            const path = pathOf(request.url)
            const render = (failure: ApiFailure) => toResponseFor(path, failure)
            // the guard first: a rebinding page or a cross-site form learns nothing, not even 401
            const verdict = guard.decide(request)
            if (verdict._tag === "Preflight") {
              return HttpServerResponse.setHeader(
                RequestGuard.preflightResponse(verdict.origin),
                correlationHeader,
                correlationId
              )
            }
            if (verdict._tag === "Refused") {
              return HttpServerResponse.setHeader(render(fromRefusal(verdict)), correlationHeader, correlationId)
            }
            const refusal = token === undefined || publicPaths.has(path)
              ? undefined
              : Option.match(PoolAuth.bearerToken(request.headers), {
                onNone: () => "missing bearer token",
                onSome: (presented) => PoolAuth.tokenMatches(presented, token) ? undefined : "invalid bearer token"
              })
            const response = refusal !== undefined
              ? render(unauthorized(refusal))
              : yield* httpEffect.pipe(
                Effect.catchAllCause((cause) => {
                  if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
                  const failure = Cause.failureOption(cause)
                  if (Option.isSome(failure) && isRouteNotFound(failure.value)) {
                    return Effect.succeed(render(notFound(`no route ${request.method} ${path}`)))
                  }
                  return Effect.logError("Request failed unexpectedly.", cause).pipe(
                    Effect.as(render(internal(correlationId)))
                  )
                })
              )
            return RequestGuard.withCors(
              HttpServerResponse.setHeader(response, correlationHeader, correlationId),
              verdict.corsOrigin
            )
          })
        )
      })
  }),
  { global: true }
)

/**
 * Over a cluster: whether each node answers (`orchestratord_pool_manager_up{node}`), from its pools'
 * statuses. A node that left the cluster (its address gone from DNS) reads 0 from then on.
 */
const nodeGauges = Effect.map(Ref.make<ReadonlySet<string>>(new Set()), (known) =>
  Effect.gen(function*() {
    const pools = yield* PoolManager
    const statuses = yield* pools.list.pipe(Effect.orElseSucceed(() => []))
    const up = new Map<string, boolean>()
    for (const status of statuses) {
      if (status.node === undefined) continue
      up.set(status.node, (up.get(status.node) ?? false) || status.nodeState !== "unreachable")
    }
    const gone = [...yield* Ref.getAndSet(known, new Set(up.keys()))].filter((node) => !up.has(node))
    for (const [node, reachable] of [...up, ...gone.map((node) => [node, false] as const)]) {
      yield* Metric.set(Metric.tagged(OrchestratorMetrics.poolManagerUp, "node", node), reachable ? 1 : 0)
    }
  }))

/**
 * Every route of orchestratord. With `poolMetrics` (pools embedded in this process), `/metrics`
 * also reports the pools with pool-managerd's gauges and counters; against a remote pool-managerd
 * those are pool-managerd's to report. With `nodeMetrics` (a cluster) it reports which nodes answer.
 *
 * @since 0.1.0
 */
export const routes = (options: { readonly poolMetrics: boolean; readonly nodeMetrics?: boolean | undefined }) =>
  Layer.mergeAll(
    HttpLayerRouter.addHttpApi(OrchestratorApi, { openapiPath: "/openapi.json" }).pipe(
      Layer.provide([TasksLive, PoolsLive, ModelsLive, AdminLive, MetaLive, OpenAiLive])
    ),
    options.poolMetrics
      ? PoolMetrics.layer
      // over a cluster each scrape reads the nodes' states (from the events: no round trip)
      : options.nodeMetrics === true
      ? Layer.unwrapEffect(Effect.map(nodeGauges, (beforeScrape) => PrometheusMetrics.route({ beforeScrape })))
      : PrometheusMetrics.route(),
    DocsPage.layer,
    StatusPage.layer,
    GlobalMiddleware
  )
