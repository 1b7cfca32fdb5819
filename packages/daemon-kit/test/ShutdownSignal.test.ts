import { describe, expect, it } from "@effect/vitest"
import { ShutdownSignal } from "@llama-orch/daemon-kit"
import { Context, Effect, Exit, Layer, Scope } from "effect"

describe("ShutdownSignal.onShutdown", () => {
  it.effect("calls each live callback once when shutdown begins, at once when it has begun, never after its scope closed", () =>
    Effect.gen(function*() {
      const layerScope = yield* Scope.make()
      const signal = Context.get(
        yield* Layer.buildWithScope(ShutdownSignal.layer, layerScope),
        ShutdownSignal.ShutdownSignal
      )
      const calls: Array<string> = []
      const requestScope = yield* Scope.make()
      yield* signal.onShutdown(() => {
        throw new Error("a failing callback")
      }).pipe(Scope.extend(requestScope))
      yield* signal.onShutdown(() => calls.push("open")).pipe(Scope.extend(requestScope))
      const goneScope = yield* Scope.make()
      yield* signal.onShutdown(() => calls.push("gone")).pipe(Scope.extend(goneScope))
      yield* Scope.close(goneScope, Exit.void)
      expect(calls).toEqual([])

      yield* Scope.close(layerScope, Exit.void)
      expect(calls).toEqual(["open"])
      expect(yield* signal.isShuttingDown).toBe(true)
      yield* signal.onShutdown(() => calls.push("late")).pipe(Scope.extend(requestScope))
      expect(calls).toEqual(["open", "late"])
      yield* Scope.close(requestScope, Exit.void)
      expect(calls).toEqual(["open", "late"])
    }))
})
