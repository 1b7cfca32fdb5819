/**
 * A signal that fires when the daemon begins to shut down, before the HTTP server waits for open
 * responses to finish. Long-lived responses (SSE, watch streams) end themselves on it, otherwise
 * `server.close()` would wait for them forever.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/**
 * The shutdown signal: `await` resolves once shutdown has begun.
 *
 * @example
 * ```ts
 * import { ShutdownSignal } from "@llama-orch/daemon-kit"
 * import { Effect } from "effect"
 *
 * // what lives as long as a request registers a callback instead of holding a fiber
 * const request = Effect.gen(function*() {
 *   const shutdown = yield* ShutdownSignal.ShutdownSignal
 *   yield* shutdown.onShutdown(() => console.log("shutting down: ending the stream"))
 * })
 *
 * // the layer fires the signal when it is released (`Serve.layer` releases it between routes and server)
 * Effect.runPromise(Effect.scoped(request.pipe(Effect.provide(ShutdownSignal.layer))))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class ShutdownSignal extends Context.Tag("@llama-orch/daemon-kit/ShutdownSignal")<ShutdownSignal, {
  /** Resolves when the daemon starts shutting down. */
  readonly await: Effect.Effect<void>
  /** Whether shutdown has begun. */
  readonly isShuttingDown: Effect.Effect<boolean>
  /**
   * Calls `callback` synchronously when shutdown begins (at once if it has begun), unless the scope
   * closed before: a fiber-free `await` for what lives as long as a request. A callback that
   * throws is skipped.
   */
  readonly onShutdown: (callback: () => void) => Effect.Effect<void, never, Scope.Scope>
}>() {}

/**
 * The signal, fired by the finalizer of this layer. `Serve.layer` places it between the server
 * and the routes, so it fires after the routes stop and before the server closes.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<ShutdownSignal> = Layer.scoped(
  ShutdownSignal,
  Effect.gen(function*() {
    const deferred = yield* Deferred.make<void>()
    const callbacks = new Set<() => void>()
    let down = false
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(
        Deferred.succeed(deferred, undefined),
        Effect.sync(() => {
          down = true
          for (const callback of callbacks) {
            try {
              callback()
            } catch {
              // one failing callback must not keep the others from running
            }
          }
          callbacks.clear()
        })
      )
    )
    const onShutdown = (callback: () => void) =>
      Effect.scopeWith((scope) => {
        if (down) {
          callback()
          return Effect.void
        }
        callbacks.add(callback)
        return Scope.addFinalizer(scope, Effect.sync(() => callbacks.delete(callback)))
      }).pipe(Effect.uninterruptible)
    return ShutdownSignal.of({ await: Deferred.await(deferred), isShuttingDown: Deferred.isDone(deferred), onShutdown })
  })
)

/**
 * Ends a stream when shutdown begins, appending `last` (for example a final SSE event) if given.
 *
 * @category utils
 * @since 0.1.0
 */
export const endOnShutdown = <A, E, R>(
  stream: Stream.Stream<A, E, R>,
  last?: A
): Stream.Stream<A, E, R | ShutdownSignal> =>
  Stream.unwrap(Effect.map(ShutdownSignal, (signal) => {
    const ended = Stream.interruptWhen(stream, signal.await)
    return last === undefined ? ended : Stream.concat(
      ended,
      Stream.fromEffect(
        Effect.map(signal.isShuttingDown, (down) => ({ down }))
      ).pipe(Stream.filter(({ down }) => down), Stream.as(last))
    )
  }))
