/**
 * Prometheus exposition of Effect `Metric`s. Every metric recorded with `effect/Metric` in the
 * process (counters, gauges, histograms, summaries, frequencies, with their tags as labels) is
 * rendered in the Prometheus text format by `@effect/opentelemetry`'s metric producer and
 * OpenTelemetry's Prometheus serializer, without starting the exporter's own server.
 *
 * Declare counters with `{ incremental: true }`: a non-incremental Effect counter may go down and
 * is exposed as a gauge. A counter's name gets the `_total` suffix if it does not have it.
 *
 * @since 0.1.0
 */
import * as OtelMetrics from "@effect/opentelemetry/Metrics"
import * as Resource from "@effect/opentelemetry/Resource"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * The content type of the Prometheus text format.
 *
 * @since 0.1.0
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/**
 * Makes a renderer: each run returns the current Prometheus text of every Effect metric.
 *
 * @since 0.1.0
 */
export const makeRenderer: Effect.Effect<Effect.Effect<string>> = Effect.gen(function*() {
  const producer = yield* OtelMetrics.makeProducer.pipe(Effect.provide(Resource.layerEmpty))
  const serializer = new PrometheusSerializer(undefined, false, undefined, true, true)
  return Effect.promise(() => producer.collect()).pipe(
    Effect.map(({ resourceMetrics }) => serializer.serialize(resourceMetrics))
  )
})

/**
 * Options of `route`.
 *
 * @since 0.1.0
 */
export interface RouteOptions<R> {
  /** Path of the endpoint (default `/metrics`). */
  readonly path?: `/${string}` | undefined
  /** Runs before each scrape, e.g. to set gauges from the current state. */
  readonly beforeScrape?: Effect.Effect<void, never, R> | undefined
}

/**
 * `GET /metrics` on an `HttpLayerRouter`: the Prometheus text of every Effect metric.
 *
 * @since 0.1.0
 */
export const route = <R = never>(
  options: RouteOptions<R> = {}
): Layer.Layer<never, never, HttpLayerRouter.HttpRouter | R> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const render = yield* makeRenderer
    const context = yield* Effect.context<R>()
    const before: Effect.Effect<void> = Effect.mapInputContext(
      options.beforeScrape ?? Effect.void,
      (_: Context.Context<never>) => context
    )
    return HttpLayerRouter.add(
      "GET",
      options.path ?? "/metrics",
      Effect.zipRight(before, render).pipe(
        Effect.map((body) => HttpServerResponse.text(body, { contentType }))
      )
    )
  }))
