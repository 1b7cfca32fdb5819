/**
 * Creating the orchestrator's metric series at zero before their first event (see `ZeroSeries`).
 *
 * @internal
 */
import type { PoolStatus } from "@llama-orch/pool-core"
import * as OrchestratorMetrics from "../OrchestratorMetrics.js"
import { Priority } from "../TaskRequest.js"
import { type MetricLabels, touch } from "./metricLabels.js"

/**
 * Creates the orchestrator's series at zero before their first event, so that a counter is there
 * at 0 rather than missing (Prometheus' `rate` and `increase` need the 0): those whose labels are
 * known at start, then those of each pool the first time it is seen with its engine.
 */
export class ZeroSeries {
  private readonly engines = new Map<string, string>()

  constructor(private readonly labels: MetricLabels) {}

  /** Admission counters of every priority and rejection reason, and backpressure of `policy`. */
  atStart(policy: string): void {
    for (const priority of Priority.literals) {
      touch(OrchestratorMetrics.tasksEnqueued, this.labels.of(["priority", priority]))
      touch(OrchestratorMetrics.tasksCanceled, this.labels.of(["priority", priority]))
    }
    for (const reason of Object.values(OrchestratorMetrics.rejectionReasons)) {
      touch(OrchestratorMetrics.tasksRejected, this.labels.of(["reason", reason]))
    }
    touch(OrchestratorMetrics.admissionBackpressure, this.labels.of(["policy", policy]))
  }

  /** Dispatch counters and latencies of the pool; nothing when it was seen with this engine. */
  pool(status: Pick<PoolStatus, "poolId" | "engine">): void {
    const { engine, poolId } = status
    if (this.engines.get(poolId) === engine) return
    this.engines.set(poolId, engine)
    for (const priority of Priority.literals) {
      touch(
        OrchestratorMetrics.tasksStarted,
        this.labels.of(["pool_id", poolId], ["engine", engine], ["priority", priority])
      )
    }
    const labels = this.labels.of(["pool_id", poolId], ["engine", engine])
    touch(OrchestratorMetrics.tokensIn, labels)
    touch(OrchestratorMetrics.tokensOut, labels)
    touch(OrchestratorMetrics.latencyFirstToken, labels)
    touch(OrchestratorMetrics.latencyDecode, labels)
  }
}
