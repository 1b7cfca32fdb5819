/**
 * What a manager shows of its pools: every status in pool-id order, and the `events` stream and
 * `watch` over the change feed — a `Snapshot` first, then every change exactly once.
 *
 * @internal
 */
import * as Array from "effect/Array"
import * as Effect from "effect/Effect"
import * as Order from "effect/Order"
import * as Stream from "effect/Stream"
import { type PoolEvent, Snapshot } from "../PoolEvent.js"
import type { PoolManagerService } from "../PoolManager.js"
import type { PoolStatus } from "../PoolStatus.js"
import type { Changes } from "./changes.js"
import type { PoolCell } from "./context.js"
import { toStatus } from "./poolState.js"

const byPoolId = Order.mapInput(Order.string, (status: PoolStatus) => status.poolId)

/** Every pool's status now, ordered by pool id. */
export const statusesOf = (pools: Iterable<PoolCell>): Array<PoolStatus> =>
  Array.sort(Array.map(Array.fromIterable(pools), (pool) => toStatus(pool, pool.data.current)), byPoolId)

/** `events` and `watch` over `changes`, each starting with a `Snapshot` of `snapshot()`. */
export const feedOf = (
  changes: Changes,
  snapshot: () => ReadonlyArray<PoolStatus>
): Pick<PoolManagerService, "events" | "watch"> => {
  // the snapshot is taken and the watcher added in one step: every later change, exactly once
  const watch: PoolManagerService["watch"] = (onEvent) =>
    Effect.async<void>((resume) => {
      let remove = () => {}
      const deliver = (event: PoolEvent): boolean => {
        try {
          onEvent(event)
          return true
        } catch (defect) {
          remove()
          resume(Effect.die(defect))
          return false
        }
      }
      if (!deliver(new Snapshot({ pools: snapshot() }))) return
      remove = changes.add({ onChange: deliver, onEnd: () => resume(Effect.void) })
      return Effect.sync(() => remove())
    })

  const events = Stream.asyncPush<PoolEvent>((emit) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        emit.single(new Snapshot({ pools: snapshot() }))
        return changes.add({ onChange: (event) => emit.single(event), onEnd: () => emit.end() })
      }),
      (remove) => Effect.sync(remove)
    )
  )
  return { events, watch }
}
