/**
 * Granting leases: one slot of a Ready pool, taken in one step with the event that announces it,
 * and given back (with its own event) when the caller's scope closes.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as HashMap from "effect/HashMap"
import * as Scope from "effect/Scope"
import * as NodeCrypto from "node:crypto"
import { Lease } from "../Lease.js"
import { PoolDraining, PoolUnready, SlotsExhausted } from "../PoolErrors.js"
import { commit, type PoolCell, type Publisher } from "./context.js"
import { leaseAcquired, leaseReleased } from "./leaseChanges.js"
import { leaseVerdict } from "./lifecycle.js"

type LeaseRefused = PoolDraining | PoolUnready | SlotsExhausted

/**
 * Takes a slot of `pool` for the current scope, or answers why not (`closing`: the manager is
 * shutting down, which refuses like a drain).
 */
export const takeLease = (
  ctx: Publisher,
  pool: PoolCell,
  closing: boolean
): Effect.Effect<Lease, LeaseRefused, Scope.Scope> =>
  Effect.suspend(() => {
    const poolId = pool.id
    const leaseId = NodeCrypto.randomUUID()
    // `acquireRelease` without its fiber-ref restore around the release (a diff of every fiber
    // ref and a copy of the context per finalizer): the release is a plain state change
    return releasedWithScope(
      commit<Either.Either<Lease, LeaseRefused>>(ctx, pool, leaseAcquired, (data) => {
        const verdict = closing ? "draining" : leaseVerdict({
          state: data.state,
          draining: data.draining,
          activeLeases: HashMap.size(data.leases),
          slotsTotal: pool.spec.slots
        })
        switch (verdict) {
          case "draining":
            return [Either.left(new PoolDraining({ poolId })), undefined]
          case "unready":
            return [Either.left(new PoolUnready({ poolId, state: data.state })), undefined]
          case "exhausted":
            return [Either.left(new SlotsExhausted({ poolId, slotsTotal: pool.spec.slots })), undefined]
          case "granted": {
            const granted = new Lease({
              leaseId,
              poolId,
              generation: data.generation,
              url: data.handoff?.url ?? "",
              engine: pool.profile.name,
              protocol: pool.profile.protocol,
              model: data.model,
              apiKey: data.engine?.apiKey
            }, true)
            return [Either.right(granted), { ...data, leases: HashMap.set(data.leases, leaseId, data.generation) }]
          }
        }
      }).pipe(Effect.flatMap((result) => result)),
      commit(ctx, pool, leaseReleased, (data) =>
        HashMap.has(data.leases, leaseId)
          ? [undefined, { ...data, leases: HashMap.remove(data.leases, leaseId) }]
          : [undefined, undefined])
    )
  })

/** Acquires uninterruptibly and releases when the caller's scope closes. */
const releasedWithScope = <A, E, R>(acquire: Effect.Effect<A, E, R>, release: Effect.Effect<unknown>) =>
  Effect.uninterruptible(
    Effect.tap(acquire, () => Effect.scopeWith((scope) => Scope.addFinalizer(scope, release)))
  )
