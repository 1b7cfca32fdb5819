import { describe, expect, it } from "@effect/vitest"
import {
  backoffDelay,
  emptyHistory,
  type FailureHistory,
  onFailure,
  type RestartConfig
} from "../src/internal/restartPolicy.js"

const config: RestartConfig = {
  baseMs: 1_000,
  maxMs: 60_000,
  jitter: 0.1,
  resetAfterMs: 300_000,
  maxFailures: 5,
  windowMs: 600_000
}

describe("restart policy", () => {
  it("doubles the delay for each consecutive failure and caps it", () => {
    const delays = [0, 1, 2, 3, 4, 5, 6, 7, 10].map((n) => backoffDelay(config, n, 0.5))
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000])
  })

  it("spreads every delay within ±10 % and never above the cap", () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const raw = 1_000 * 2 ** attempt
      for (const random of [0, 0.25, 0.5, 0.75, 0.999]) {
        const delay = backoffDelay(config, attempt, random)
        expect(delay).toBeGreaterThanOrEqual(Math.min(config.maxMs, raw * 0.9) - 1)
        expect(delay).toBeLessThanOrEqual(Math.min(config.maxMs, raw * 1.1 + 1))
      }
    }
    expect(backoffDelay(config, 0, 0)).toBe(900)
    expect(backoffDelay(config, 0, 0.999)).toBe(1_100)
  })

  it("restarts after 1 s, 2 s, 4 s, 8 s and opens the circuit at the 5th failure within 10 minutes", () => {
    let history: FailureHistory = emptyHistory
    const delays: Array<number> = []
    let now = 0
    for (let i = 0; i < 4; i++) {
      const decision = onFailure(config, history, now, undefined, 0.5)
      expect(decision._tag).toBe("Restart")
      if (decision._tag === "Restart") delays.push(decision.delayMs)
      history = decision.history
      now += 10_000
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000])
    expect(onFailure(config, history, now, undefined, 0.5)._tag).toBe("CircuitOpen")
  })

  it("forgets failures older than the window", () => {
    let history: FailureHistory = emptyHistory
    for (let i = 0; i < 4; i++) history = onFailure(config, history, i * 1_000, undefined, 0.5).history
    // the 5th failure comes 10 minutes after the first: only 4 are inside the window
    const decision = onFailure(config, history, 600_000, undefined, 0.5)
    expect(decision._tag).toBe("Restart")
    expect(decision.history.recent).toHaveLength(4)
  })

  it("resets the count after 5 minutes of stable Ready", () => {
    let history: FailureHistory = emptyHistory
    for (let i = 0; i < 4; i++) history = onFailure(config, history, i * 1_000, undefined, 0.5).history
    const readySince = 10_000
    const unstable = onFailure(config, history, readySince + 299_999, readySince, 0.5)
    expect(unstable._tag).toBe("CircuitOpen")
    const stable = onFailure(config, history, readySince + 300_000, readySince, 0.5)
    expect(stable).toEqual({ _tag: "Restart", delayMs: 1_000, history: { consecutive: 1, recent: [310_000] } })
  })
})
