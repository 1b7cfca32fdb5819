/**
 * Sessions: a client's consecutive tasks under one `session_id`. A session lives for a sliding TTL
 * (default 10 minutes after its last use), allows a bounded number of turns (default 8; the next
 * turn is refused with `INVALID_PARAMS` on `session_id` so the client starts a new session),
 * remembers the pool of its last task for affinity, and may carry a token budget (prompt and
 * generated tokens, counted from `end` events). Synchronous; times are passed in.
 *
 * @since 0.1.0
 */

/**
 * One session's counters.
 *
 * @category models
 * @since 0.1.0
 */
export interface Session {
  turns: number
  tokensUsed: number
  lastPoolId: string | undefined
  expiresAt: number
}

/**
 * Session limits.
 *
 * @category models
 * @since 0.1.0
 */
export interface SessionLimits {
  readonly ttlMs: number
  readonly maxTurns: number
  readonly tokenBudget?: number | undefined
}

/**
 * The outcome of starting a turn.
 *
 * @category models
 * @since 0.1.0
 */
export type TurnResult =
  | { readonly _tag: "Ok"; readonly session: Session }
  | { readonly _tag: "BudgetExceeded"; readonly budget: number; readonly used: number; readonly expiresInMs: number }
  | { readonly _tag: "TooManyTurns"; readonly maxTurns: number }

/**
 * The session store.
 *
 * @category models
 * @since 0.1.0
 */
export class Sessions {
  private readonly sessions = new Map<string, Session>()

  constructor(readonly limits: SessionLimits) {}

  /** How many sessions are alive at `now`. */
  size(now: number): number {
    this.sweep(now)
    return this.sessions.size
  }

  /** The live session with this id, if any. */
  get(id: string, now: number): Session | undefined {
    const session = this.sessions.get(id)
    if (session === undefined) return undefined
    if (session.expiresAt <= now) {
      this.sessions.delete(id)
      return undefined
    }
    return session
  }

  /** Whether a turn may start now (no change). */
  check(id: string, now: number): Exclude<TurnResult, { readonly _tag: "Ok" }> | undefined {
    const session = this.get(id, now)
    if (session === undefined) return undefined
    const budget = this.limits.tokenBudget
    if (budget !== undefined && session.tokensUsed >= budget) {
      return { _tag: "BudgetExceeded", budget, used: session.tokensUsed, expiresInMs: session.expiresAt - now }
    }
    if (session.turns >= this.limits.maxTurns) return { _tag: "TooManyTurns", maxTurns: this.limits.maxTurns }
    return undefined
  }

  /** Starts a turn: checks budget and turn count, counts the turn and slides the TTL. */
  beginTurn(id: string, now: number): TurnResult {
    const refused = this.check(id, now)
    if (refused !== undefined) return refused
    const session = this.get(id, now) ?? { turns: 0, tokensUsed: 0, lastPoolId: undefined, expiresAt: 0 }
    session.turns++
    session.expiresAt = now + this.limits.ttlMs
    this.sessions.set(id, session)
    return { _tag: "Ok", session }
  }

  /** Records a finished turn: tokens spent and the pool that served it; slides the TTL. */
  recordEnd(id: string, now: number, tokens: number, poolId: string | undefined): void {
    const session = this.get(id, now)
    if (session === undefined) return
    session.tokensUsed += tokens
    if (poolId !== undefined) session.lastPoolId = poolId
    session.expiresAt = now + this.limits.ttlMs
  }

  /** Forgets every session expired at `now`. */
  sweep(now: number): void {
    for (const [id, session] of this.sessions) {
      if (session.expiresAt <= now) this.sessions.delete(id)
    }
  }
}
