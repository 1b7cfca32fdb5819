/**
 * Metric label sets built once and reused (the same array for the same pairs), and recording or
 * creating a series with one without building its labels again per event.
 *
 * @internal
 */
import type * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"

/**
 * Label sets kept by identity. `Metric.tagged` builds a new label array, key and hash on every
 * update; a metric updated with the same array finds its series in its own cache instead.
 */
export class MetricLabels {
  private readonly sets = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()

  /** The label set of these `[key, value]` pairs, the same array every time. */
  of(...pairs: ReadonlyArray<readonly [string, string]>): ReadonlyArray<MetricLabel.MetricLabel> {
    const id = pairs.map(([k, v]) => `${k}\u0000${v}`).join("\u0001")
    let labels = this.sets.get(id)
    if (labels === undefined) {
      labels = pairs.map(([k, v]) => MetricLabel.make(k, v))
      this.sets.set(id, labels)
    }
    return labels
  }
}

/** Updates `metric`'s series for `labels` (a set from `MetricLabels`). */
export const record = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  input: In,
  labels: ReadonlyArray<MetricLabel.MetricLabel>
): void => metric.unsafeUpdate(input, labels)

/** Creates the series of `metric` for `labels` at its zero value, without recording anything. */
export const touch = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  labels: ReadonlyArray<MetricLabel.MetricLabel>
): void => void metric.unsafeValue(labels)
