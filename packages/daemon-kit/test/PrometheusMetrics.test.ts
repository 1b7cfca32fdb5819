import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { describe, expect, it } from "@effect/vitest"
import * as PrometheusMetrics from "@llama-orch/daemon-kit/PrometheusMetrics"
import { Effect, Metric, MetricBoundaries } from "effect"

// Parses the text exposition format into samples, checking every line is well formed.
const parse = (text: string) => {
  const types = new Map<string, string>()
  const samples: Array<{ name: string; labels: string; value: number }> = []
  for (const line of text.split("\n")) {
    if (line === "") continue
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type) {
      types.set(type[1] ?? "", type[2] ?? "")
      continue
    }
    if (line.startsWith("#")) {
      expect(line).toMatch(/^# (HELP|UNIT) \S+/)
      continue
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$/.exec(line)
    if (sample === null) return expect.fail(`malformed line: ${line}`)
    samples.push({ name: sample[1] ?? "", labels: sample[2] ?? "", value: Number(sample[3]) })
  }
  return { types, samples }
}

describe("PrometheusMetrics", () => {
  it.effect("renders Effect counters, gauges and histograms with their tags as labels", () =>
    Effect.gen(function*() {
      const restarts = Metric.counter("dk_test_restarts_total", { incremental: true, description: "restarts" })
      const ready = Metric.gauge("dk_test_ready")
      const preload = Metric.histogram(
        "dk_test_preload_ms",
        MetricBoundaries.fromIterable([100, 1000])
      )
      yield* Metric.incrementBy(Metric.tagged(restarts, "pool_id", "p1"), 2)
      yield* Metric.set(ready.pipe(Metric.tagged("pool_id", "p1"), Metric.tagged("engine", "mock")), 1)
      yield* Metric.update(preload, 250)
      yield* Metric.update(preload, 50)
      const render = yield* PrometheusMetrics.makeRenderer
      const { samples, types } = parse(yield* render)
      expect(types.get("dk_test_restarts_total")).toBe("counter")
      expect(types.get("dk_test_ready")).toBe("gauge")
      expect(types.get("dk_test_preload_ms")).toBe("histogram")
      const find = (name: string, labels = "") => samples.find((s) => s.name === name && s.labels === labels)?.value
      expect(find("dk_test_restarts_total", "{pool_id=\"p1\"}")).toBe(2)
      expect(find("dk_test_ready", "{pool_id=\"p1\",engine=\"mock\"}")).toBe(1)
      expect(find("dk_test_preload_ms_bucket", "{le=\"100\"}")).toBe(1)
      expect(find("dk_test_preload_ms_bucket", "{le=\"1000\"}")).toBe(2)
      expect(find("dk_test_preload_ms_bucket", "{le=\"+Inf\"}")).toBe(2)
      expect(find("dk_test_preload_ms_count")).toBe(2)
      expect(find("dk_test_preload_ms_sum")).toBe(300)
    }))

  it.effect("a counter does not appear to move without its event, and escapes label values", () =>
    Effect.gen(function*() {
      const events = Metric.counter("dk_test_events_total", { incremental: true }).pipe(
        Metric.tagged("reason", "quote\"back\\slash")
      )
      yield* Metric.increment(events)
      const render = yield* PrometheusMetrics.makeRenderer
      const first = parse(yield* render).samples.find((s) => s.name === "dk_test_events_total")
      const second = parse(yield* render).samples.find((s) => s.name === "dk_test_events_total")
      expect(first?.labels).toBe("{reason=\"quote\\\"back\\\\slash\"}")
      expect(first?.value).toBe(1)
      expect(second?.value).toBe(1)
    }))

  it.effect("the /metrics route runs beforeScrape and answers in the text format", () =>
    Effect.gen(function*() {
      const gauge = Metric.gauge("dk_test_scraped")
      let scrapes = 0
      const { dispose, handler } = HttpLayerRouter.toWebHandler(
        PrometheusMetrics.route({ beforeScrape: Effect.suspend(() => Metric.set(gauge, ++scrapes)) })
      )
      try {
        const response = yield* Effect.promise(() => handler(new Request("http://localhost/metrics")))
        expect(response.status).toBe(200)
        expect(response.headers.get("content-type")).toBe(PrometheusMetrics.contentType)
        const body = yield* Effect.promise(() => response.text())
        expect(body).toMatch(/^dk_test_scraped 1$/m)
      } finally {
        yield* Effect.promise(() => dispose())
      }
    }))
})
