/** A node of a `MultiPoolManager` whose connection a test can cut. */
import { Effect } from "effect"
import { type PoolManagerService, PoolManagerUnavailable } from "../../src/index.js"

/** While cut, the node's event stream fails and every call does; `restore` lets it answer again. */
export const cuttable = (manager: PoolManagerService) => {
  const state = { cut: false, waiters: new Set<() => void>() }
  const down = new PoolManagerUnavailable({ url: "test", reason: "cut" })
  const guard = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | PoolManagerUnavailable, R> =>
    Effect.suspend((): Effect.Effect<A, E | PoolManagerUnavailable, R> => state.cut ? Effect.fail(down) : effect)
  const node: PoolManagerService = {
    ...manager,
    list: guard(manager.list),
    status: (poolId) => guard(manager.status(poolId)),
    lease: (poolId) => guard(manager.lease(poolId)),
    watch: (onEvent) =>
      guard(Effect.raceFirst(
        manager.watch(onEvent),
        Effect.async<never, PoolManagerUnavailable>((resume) => {
          const fail = () => resume(Effect.fail(down))
          state.waiters.add(fail)
          return Effect.sync(() => state.waiters.delete(fail))
        })
      ))
  }
  return {
    node,
    cut: Effect.sync(() => {
      state.cut = true
      for (const fail of Array.from(state.waiters)) fail()
    }),
    restore: Effect.sync(() => {
      state.cut = false
    })
  }
}
