/**
 * Prometheus text for `/metrics`, with llama-server's metric names.
 *
 * @internal
 */
import type { Counters } from "./state.js"

const metric = (name: string, type: "counter" | "gauge", help: string, value: number): string =>
  `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`

/** Renders the engine counters in the Prometheus text format. */
export const renderMetrics = (c: Counters): string =>
  [
    metric("llamacpp:prompt_tokens_total", "counter", "Number of prompt tokens processed.", c.promptTokensTotal),
    metric("llamacpp:prompt_seconds_total", "counter", "Prompt process time", c.promptMsTotal / 1000),
    metric(
      "llamacpp:tokens_predicted_total",
      "counter",
      "Number of generation tokens processed.",
      c.tokensPredictedTotal
    ),
    metric("llamacpp:tokens_predicted_seconds_total", "counter", "Predict process time", c.predictedMsTotal / 1000),
    metric("llamacpp:n_decode_total", "counter", "Total number of llama_decode() calls", c.decodeTotal),
    metric(
      "llamacpp:prompt_tokens_seconds",
      "gauge",
      "Average prompt throughput in tokens/s.",
      c.promptMsTotal > 0 ? (1000 * c.promptTokensTotal) / c.promptMsTotal : 0
    ),
    metric(
      "llamacpp:predicted_tokens_seconds",
      "gauge",
      "Average generation throughput in tokens/s.",
      c.predictedMsTotal > 0 ? (1000 * c.tokensPredictedTotal) / c.predictedMsTotal : 0
    ),
    metric("llamacpp:requests_processing", "gauge", "Number of requests processing.", c.requestsProcessing),
    metric("llamacpp:requests_deferred", "gauge", "Number of requests deferred.", c.requestsDeferred),
    metric(
      "mock_max_concurrent_requests",
      "gauge",
      "Highest number of requests ever processed at once.",
      c.maxConcurrentRequests
    )
  ].join("")
