/**
 * Prometheus exposition of Effect `Metric`s, plus the process and Node.js runtime metrics. Every
 * metric recorded with `effect/Metric` in the process (counters, gauges, histograms, summaries,
 * frequencies, with their tags as labels) is rendered in the Prometheus text format by
 * `@effect/opentelemetry`'s metric producer and OpenTelemetry's Prometheus serializer, without
 * starting the exporter's own server. The `process_*` and `nodejs_*` metrics (CPU seconds, resident
 * memory, start time, open file descriptors, event-loop lag, heap, GC durations) come from
 * `prom-client`'s default collectors, in a registry of the route's own.
 *
 * Declare counters with `{ incremental: true }`: a non-incremental Effect counter may go down and
 * is exposed as a gauge. A counter's name gets the `_total` suffix if it does not have it. Effect's
 * own runtime metrics (`effect_fiber_*`: fiber counts and lifetimes in milliseconds, without
 * descriptions) are left out; the process and Node.js metrics take their place.
 *
 * @module @llama-orch/daemon-kit/PrometheusMetrics
 * @since 0.1.0
 */
import * as OtelMetrics from "@effect/opentelemetry/Metrics"
import * as Resource from "@effect/opentelemetry/Resource"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import type { ResourceMetrics } from "@opentelemetry/sdk-metrics"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { collectDefaultMetrics, Registry } from "prom-client"

/**
 * The content type of the Prometheus text format.
 *
 * @category constants
 * @since 0.1.0
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/** Names of Effect's runtime metrics start with this. */
const effectRuntimePrefix = "effect_"

/**
 * Without Effect's runtime metrics, and without units: the producer gives every metric the unit
 * `1`, which the serializer would print as a `# UNIT` comment that the text format does not know.
 */
const exposable = (metrics: ResourceMetrics): ResourceMetrics => ({
  ...metrics,
  scopeMetrics: metrics.scopeMetrics.map((scope) => ({
    ...scope,
    metrics: scope.metrics
      .filter((metric) => !metric.descriptor.name.startsWith(effectRuntimePrefix))
      .map((metric) => ({ ...metric, descriptor: { ...metric.descriptor, unit: "" } }))
  }))
})

/**
 * Makes a renderer: each run returns the current Prometheus text of every Effect metric (but
 * Effect's own `effect_fiber_*` runtime metrics).
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeRenderer: Effect.Effect<Effect.Effect<string>> = Effect.gen(function*() {
  const producer = yield* OtelMetrics.makeProducer.pipe(Effect.provide(Resource.layerEmpty))
  const serializer = new PrometheusSerializer(undefined, false, undefined, true, true)
  return Effect.promise(() => producer.collect()).pipe(
    Effect.map(({ resourceMetrics }) => serializer.serialize(exposable(resourceMetrics)))
  )
})

/**
 * Default collectors of `prom-client` that export gauges named `*_total` (a name the text format
 * keeps for counters); the same numbers are in `nodejs_active_handles`, `nodejs_active_requests`
 * and `nodejs_active_resources`, by type.
 */
const gaugesNamedTotal = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total"
]

/**
 * Makes a renderer of the process and Node.js runtime metrics (`process_cpu_seconds_total`,
 * `process_resident_memory_bytes`, `process_start_time_seconds`, `process_open_fds`,
 * `nodejs_eventloop_lag_seconds`, `nodejs_heap_size_used_bytes`, `nodejs_gc_duration_seconds`, ...):
 * `prom-client`'s default collectors in a registry that is cleared when the scope closes.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeProcessRenderer: Effect.Effect<Effect.Effect<string>, never, Scope.Scope> = Effect.map(
  Effect.acquireRelease(
    Effect.sync(() => {
      const registry = new Registry()
      collectDefaultMetrics({ register: registry })
      for (const name of gaugesNamedTotal) registry.removeSingleMetric(name)
      return registry
    }),
    (registry) => Effect.sync(() => registry.clear())
  ),
  (registry) =>
    Effect.tryPromise(() => registry.metrics()).pipe(
      Effect.catchAll((error) =>
        Effect.logWarning("Process metrics could not be collected; this scrape has only the daemon's own.", error)
          .pipe(Effect.as(""))
      )
    )
)

/** The parts of one exposition, each ending in exactly one line feed. */
const joinTexts = (parts: ReadonlyArray<string>): string =>
  parts.map((part) => part.trimEnd()).filter((part) => part !== "").map((part) => `${part}\n`).join("")

/**
 * Options of `route`.
 *
 * @category models
 * @since 0.1.0
 */
export interface RouteOptions<R> {
  /** Path of the endpoint (default `/metrics`). */
  readonly path?: `/${string}` | undefined
  /** Runs before each scrape, e.g. to set gauges from the current state. */
  readonly beforeScrape?: Effect.Effect<void, never, R> | undefined
  /** Whether to add the `process_*` and `nodejs_*` metrics (default `true`). */
  readonly processMetrics?: boolean | undefined
}

/**
 * `GET /metrics` on an `HttpLayerRouter`: the Prometheus text of every Effect metric, then the
 * process and Node.js runtime metrics.
 *
 * @category utils
 * @since 0.1.0
 */
export const route = <R = never>(
  options: RouteOptions<R> = {}
): Layer.Layer<never, never, HttpLayerRouter.HttpRouter | R> =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const render = yield* makeRenderer
    const renderProcess = options.processMetrics === false ? Effect.succeed("") : yield* makeProcessRenderer
    const context = yield* Effect.context<R>()
    const before: Effect.Effect<void> = Effect.mapInputContext(
      options.beforeScrape ?? Effect.void,
      (_: Context.Context<never>) => context
    )
    return HttpLayerRouter.add(
      "GET",
      options.path ?? "/metrics",
      Effect.zipRight(before, Effect.all([render, renderProcess])).pipe(
        Effect.map((parts) => HttpServerResponse.text(joinTexts(parts), { contentType }))
      )
    )
  }))
