/**
 * Predictions: when a queued task will start, how likely it is to finish within its deadline, and
 * how long a refused client should wait before retrying.
 *
 * The model: every slot of the model's Ready pools serves tasks one at a time; service times are
 * exponentially distributed with a mean tracked as an exponentially weighted moving average (EWMA)
 * of measured service times (dispatch to end). The drain rate of a queue is then
 * `slots / meanServiceMs` tasks per millisecond.
 *
 * @since 0.1.0
 */

/**
 * The smallest and largest `retry_after_ms` ever suggested.
 *
 * @category utils
 * @since 0.1.0
 */
export const retryAfterBounds = { min: 100, max: 60_000 } as const

/**
 * Folds one measured service time into the moving average: `mean + alpha * (sample - mean)`.
 *
 * @category utils
 * @since 0.1.0
 */
export const ewma = (mean: number, sample: number, alpha: number): number => mean + alpha * (sample - mean)

/**
 * Predicted milliseconds until a task at `position` (number of tasks ahead of it) starts, given
 * the free slots now and all slots of the model: 0 when a free slot is left for it, otherwise
 * `(position - freeSlots + 1) * meanServiceMs / slots`.
 *
 * @category utils
 * @since 0.1.0
 */
export const predictedStartMs = (
  position: number,
  freeSlots: number,
  slots: number,
  meanServiceMs: number
): number => {
  if (position < freeSlots) return 0
  return Math.round(((position - freeSlots + 1) * meanServiceMs) / Math.max(1, slots))
}

/**
 * The probability that a task starting in `startMs` finishes within `deadlineMs`, with exponential
 * service times of mean `meanServiceMs`: `1 - exp(-(deadlineMs - startMs) / meanServiceMs)`, and 0
 * when the start is already past the deadline.
 *
 * @category utils
 * @since 0.1.0
 */
export const onTimeProbability = (deadlineMs: number, startMs: number, meanServiceMs: number): number => {
  const slack = deadlineMs - startMs
  if (slack <= 0) return 0
  if (meanServiceMs <= 0) return 1
  return 1 - Math.exp(-slack / meanServiceMs)
}

/**
 * Clamps a suggested wait to 100 ms .. 60 s.
 *
 * @category utils
 * @since 0.1.0
 */
export const clampRetryAfter = (ms: number): number =>
  Math.min(retryAfterBounds.max, Math.max(retryAfterBounds.min, Math.round(Number.isFinite(ms) ? ms : 0)))

/**
 * How long until a full queue has room again: the time one task takes to drain at the measured
 * rate (`meanServiceMs / slots`), clamped to 100 ms .. 60 s.
 *
 * @category utils
 * @since 0.1.0
 */
export const retryAfterMs = (slots: number, meanServiceMs: number): number =>
  clampRetryAfter(meanServiceMs / Math.max(1, slots))
