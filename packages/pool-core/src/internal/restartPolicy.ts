/**
 * The pure rules of supervised restarts: how long to wait before the next restart, when the
 * failure count resets, and when the circuit opens. No effects and no clock: callers pass `now`
 * and a random number, so every rule is unit-testable.
 *
 * @internal
 */

/** The knobs of the restart policy (all durations in milliseconds). */
export interface RestartConfig {
  /** Delay before the first restart; doubled for each further consecutive failure. */
  readonly baseMs: number
  /** Upper bound of any restart delay, jitter included. */
  readonly maxMs: number
  /** Relative jitter: 0.1 spreads every delay over ±10 %. */
  readonly jitter: number
  /** After this long in Ready without a failure, the failure history is forgotten. */
  readonly resetAfterMs: number
  /** This many failures within `windowMs` open the circuit. */
  readonly maxFailures: number
  /** The sliding window for `maxFailures`. */
  readonly windowMs: number
}

/** What the policy remembers between failures. */
export interface FailureHistory {
  /** Consecutive failures since the last reset (the exponent of the next delay). */
  readonly consecutive: number
  /** When recent failures happened (epoch ms), oldest first. */
  readonly recent: ReadonlyArray<number>
}

/** No failures. */
export const emptyHistory: FailureHistory = { consecutive: 0, recent: [] }

/** The policy's answer to a failure. */
export type RestartDecision =
  | { readonly _tag: "Restart"; readonly delayMs: number; readonly history: FailureHistory }
  | { readonly _tag: "CircuitOpen"; readonly history: FailureHistory }

/**
 * The delay before restart number `attempt` (0-based): `baseMs × 2^attempt`, spread by ±`jitter`
 * with `random` in [0, 1), capped at `maxMs`.
 */
export const backoffDelay = (config: RestartConfig, attempt: number, random: number): number => {
  const raw = config.baseMs * Math.pow(2, Math.max(0, attempt))
  const spread = 1 + config.jitter * (2 * random - 1)
  return Math.max(0, Math.min(config.maxMs, Math.round(raw * spread)))
}

/** True when the engine has been Ready long enough (`resetAfterMs`) for its history to be forgotten. */
export const isStable = (config: RestartConfig, readySince: number | undefined, now: number): boolean =>
  readySince !== undefined && now - readySince >= config.resetAfterMs

/**
 * Records a failure at `now` and decides: restart after a delay, or open the circuit.
 * `readySince` is when the failed engine became Ready (undefined when it never did).
 */
export const onFailure = (
  config: RestartConfig,
  history: FailureHistory,
  now: number,
  readySince: number | undefined,
  random: number
): RestartDecision => {
  const base = isStable(config, readySince, now) ? emptyHistory : history
  const next: FailureHistory = {
    consecutive: base.consecutive + 1,
    recent: [...base.recent.filter((at) => now - at < config.windowMs), now]
  }
  if (next.recent.length >= config.maxFailures) {
    return { _tag: "CircuitOpen", history: next }
  }
  return { _tag: "Restart", delayMs: backoffDelay(config, next.consecutive - 1, random), history: next }
}
