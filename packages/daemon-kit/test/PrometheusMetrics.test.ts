import { NodeContext } from "@effect/platform-node"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { describe, expect, it } from "@effect/vitest"
import { Promtool } from "@llama-orch/daemon-kit"
import * as PrometheusMetrics from "@llama-orch/daemon-kit/PrometheusMetrics"
import { Effect, Metric, MetricBoundaries } from "effect"

const sample = (families: ReadonlyMap<string, Promtool.Family>, family: string, name = family, labels = "") =>
  families.get(family)?.samples.find((s) => s.name === name && s.labels === labels)?.value

/** The body of `GET /metrics` from `route(options)`. */
const scrape = (options?: PrometheusMetrics.RouteOptions<never>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => HttpLayerRouter.toWebHandler(PrometheusMetrics.route(options))),
    ({ handler }) =>
      Effect.promise(async () => {
        const response = await handler(new Request("http://localhost/metrics"))
        return {
          status: response.status,
          contentType: response.headers.get("content-type"),
          body: await response.text()
        }
      }),
    ({ dispose }) => Effect.promise(() => dispose())
  )

describe("PrometheusMetrics", () => {
  it.effect("renders Effect counters, gauges and histograms with their tags as labels", () =>
    Effect.gen(function*() {
      const restarts = Metric.counter("dk_test_restarts_total", { incremental: true, description: "restarts" })
      const ready = Metric.gauge("dk_test_ready")
      const preload = Metric.histogram("dk_test_preload_seconds", MetricBoundaries.fromIterable([0.1, 1]))
      yield* Metric.incrementBy(Metric.tagged(restarts, "pool_id", "p1"), 2)
      yield* Metric.set(ready.pipe(Metric.tagged("pool_id", "p1"), Metric.tagged("engine", "mock")), 1)
      yield* Metric.update(preload, 0.25)
      yield* Metric.update(preload, 0.05)
      const render = yield* PrometheusMetrics.makeRenderer
      const families = yield* Promtool.parse(yield* render)
      expect(families.get("dk_test_restarts_total")?.type).toBe("counter")
      expect(families.get("dk_test_restarts_total")?.help).toBe("restarts")
      expect(families.get("dk_test_ready")?.type).toBe("gauge")
      expect(families.get("dk_test_preload_seconds")?.type).toBe("histogram")
      expect(sample(families, "dk_test_restarts_total", undefined, "{pool_id=\"p1\"}")).toBe(2)
      expect(sample(families, "dk_test_ready", undefined, "{pool_id=\"p1\",engine=\"mock\"}")).toBe(1)
      const bucket = (le: string) => sample(families, "dk_test_preload_seconds", "dk_test_preload_seconds_bucket", le)
      expect(bucket("{le=\"0.1\"}")).toBe(1)
      expect(bucket("{le=\"1\"}")).toBe(2)
      expect(bucket("{le=\"+Inf\"}")).toBe(2)
      expect(sample(families, "dk_test_preload_seconds", "dk_test_preload_seconds_count")).toBe(2)
      expect(sample(families, "dk_test_preload_seconds", "dk_test_preload_seconds_sum")).toBe(0.3)
    }))

  it.effect("leaves out Effect's own fiber metrics and prints no # UNIT comments", () =>
    Effect.gen(function*() {
      // a forked fiber moves Effect's runtime metrics (they are on by default)
      yield* Effect.fork(Effect.void)
      yield* Metric.increment(Metric.counter("dk_test_units_total", { incremental: true, description: "units" }))
      const text = yield* Effect.flatten(PrometheusMetrics.makeRenderer)
      expect(text).toContain("dk_test_units_total 1")
      expect(text).not.toContain("effect_fiber")
      expect(text).not.toMatch(/^# UNIT/m)
    }))

  it.effect("a counter does not appear to move without its event, and escapes label values", () =>
    Effect.gen(function*() {
      const events = Metric.counter("dk_test_events_total", { incremental: true }).pipe(
        Metric.tagged("reason", "quote\"back\\slash")
      )
      yield* Metric.increment(events)
      const render = yield* PrometheusMetrics.makeRenderer
      const first = (yield* Promtool.parse(yield* render)).get("dk_test_events_total")?.samples[0]
      const second = (yield* Promtool.parse(yield* render)).get("dk_test_events_total")?.samples[0]
      expect(first?.labels).toBe("{reason=\"quote\\\"back\\\\slash\"}")
      expect(first?.value).toBe(1)
      expect(second?.value).toBe(1)
    }))

  it.effect("the /metrics route runs beforeScrape and answers in the text format", () =>
    Effect.gen(function*() {
      const gauge = Metric.gauge("dk_test_scraped")
      let scrapes = 0
      const response = yield* scrape({ beforeScrape: Effect.suspend(() => Metric.set(gauge, ++scrapes)) })
      expect(response.status).toBe(200)
      expect(response.contentType).toBe(PrometheusMetrics.contentType)
      expect(response.body).toMatch(/^dk_test_scraped 1$/m)
    }))

  it.effect("the route adds the process and Node.js runtime metrics, and promtool finds nothing to say", () =>
    Effect.gen(function*() {
      yield* Metric.increment(Metric.counter("dk_test_route_total", { incremental: true, description: "route" }))
      const { body } = yield* scrape()
      const families = yield* Promtool.parse(body)
      for (const name of ["process_cpu_seconds_total", "process_cpu_user_seconds_total"]) {
        expect(families.get(name)?.type, name).toBe("counter")
      }
      for (
        const name of [
          "process_resident_memory_bytes",
          "process_start_time_seconds",
          "process_open_fds",
          "process_max_fds",
          "nodejs_eventloop_lag_seconds",
          "nodejs_heap_size_used_bytes",
          "nodejs_heap_size_total_bytes"
        ]
      ) {
        expect(families.get(name)?.type, name).toBe("gauge")
      }
      expect(sample(families, "process_start_time_seconds")).toBeGreaterThan(1_600_000_000)
      expect(sample(families, "process_resident_memory_bytes")).toBeGreaterThan(0)
      expect(families.get("nodejs_gc_duration_seconds")?.type).toBe("histogram")
      // prom-client's gauges named *_total are removed
      expect([...families.keys()].filter((name) => name.startsWith("nodejs_active_") && name.endsWith("_total")))
        .toEqual([])
      expect(yield* Promtool.checkMetrics(body)).toEqual({ exitCode: 0, output: "" })

      const without = yield* scrape({ processMetrics: false })
      expect(without.body).toContain("dk_test_route_total 1")
      expect(without.body).not.toContain("process_")
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("Promtool", () => {
  it.effect("reports what breaks the naming rules, with a non-zero exit", () =>
    Effect.gen(function*() {
      const text = "# HELP dk_bad_total a gauge named like a counter\n# TYPE dk_bad_total gauge\ndk_bad_total 1\n"
      const result = yield* Promtool.checkMetrics(text)
      expect(result.exitCode).not.toBe(0)
      expect(result.output).toContain("dk_bad_total non-counter metrics should not have \"_total\" suffix")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("says clearly when promtool is not installed", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Promtool.checkMetrics("", { command: "promtool-not-installed" }))
      expect(error._tag).toBe("PromtoolMissing")
      expect(error.message).toContain("promtool-not-installed was not found")
      expect(error.message).toContain("prometheus")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("conventions names what promtool lets through", () =>
    Effect.gen(function*() {
      const families = yield* Promtool.parse([
        "# HELP app_ok_total fine",
        "# TYPE app_ok_total counter",
        "app_ok_total 0",
        "# HELP app_hits a counter without _total",
        "# TYPE app_hits counter",
        "app_hits 1",
        "# HELP app_wait_ms waits",
        "# TYPE app_wait_ms histogram",
        "app_wait_ms_bucket{le=\"+Inf\"} 0",
        "app_wait_ms_sum 0",
        "app_wait_ms_count 0",
        "# HELP other_up description missing",
        "# TYPE other_up gauge",
        "other_up 1",
        ""
      ].join("\n"))
      expect(families.get("app_wait_ms")?.samples.map((s) => s.name)).toEqual([
        "app_wait_ms_bucket",
        "app_wait_ms_sum",
        "app_wait_ms_count"
      ])
      expect(Promtool.conventions(families, { prefixes: ["app_"] })).toEqual([
        "app_hits is a counter: only counters, and all of them, end in _total",
        "app_wait_ms is a histogram whose name does not end in _seconds or _bytes",
        "app_wait_ms is in milliseconds, not seconds",
        "other_up does not start with app_",
        "other_up has no HELP text"
      ])
    }))

  it.effect("parse refuses a malformed line", () =>
    Effect.gen(function*() {
      expect(yield* Effect.flip(Promtool.parse("dk_ok 1\nnot a sample\n"))).toBe("malformed line: not a sample")
    }))
})
