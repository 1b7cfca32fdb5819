/**
 * An in-memory `PoolManager` for tests: the embedded manager's pool states, slots, leases, errors
 * and events over scripted engines — no process, no port, no file. Code written against the
 * `PoolManager` tag runs on it unchanged, and every timing goes through Effect's `Clock`, so it works
 * under `it.effect` and the `TestClock`.
 *
 * ```ts
 * const Pools = InMemoryPoolManager.layer({
 *   pools: [{ id: "p1", engine: "mock", model: "tiny", slots: 2 }],
 *   engineUrl: engine.url // a mock engine the test runs, or leave the placeholder
 * })
 * ```
 *
 * `Control` scripts what engines do: `fail(poolId, lastError)` (the engine failed and the restart
 * circuit opened: `Failed`), `setState(poolId, state)`, `failStarts(model, true)`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { EngineProtocol } from "./EngineProfile.js"
import { makeInMemoryPoolManager } from "./internal/inMemory.js"
import { catalogFields } from "./ModelCatalog.js"
import type { PoolNotFound } from "./PoolErrors.js"
import type { PoolId } from "./PoolId.js"
import { PoolManager, type PoolManagerService } from "./PoolManager.js"
import { PoolSpec } from "./PoolSpec.js"
import { FailureKind, type PoolState, type PoolStatus } from "./PoolStatus.js"

const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())

/**
 * The URL leases and handoffs carry when no `engineUrl` is given: nothing listens there, so work
 * sent to it fails at once with a refused connection.
 *
 * @category constants
 * @since 0.1.0
 */
export const placeholderUrl = "http://127.0.0.1:1"

/**
 * An engine pools may name in `spec.engine`. An `EngineProfile` is one too (only its `name` and
 * `protocol` are used), so the embedded and the in-memory layer can share their profiles.
 *
 * @category models
 * @since 0.1.0
 */
export class InMemoryEngine extends Schema.Class<InMemoryEngine>("InMemoryEngine")({
  name: Schema.NonEmptyTrimmedString,
  protocol: Schema.optionalWith(EngineProtocol, { default: () => "llamacpp" as const })
}) {}

/**
 * Options of the in-memory pool manager. Every field has a default.
 *
 * @category models
 * @since 0.1.0
 */
export class InMemoryOptions extends Schema.Class<InMemoryOptions>("InMemoryOptions")({
  /** The engines pools may use; others are refused with `EngineNotAllowed` (default: `mock`, llamacpp). */
  engines: Schema.optionalWith(Schema.Array(InMemoryEngine), {
    default: () => [new InMemoryEngine({ name: "mock", protocol: "llamacpp" })]
  }),
  /**
   * Pools registered when the layer is built. Those with `preload` (the default) are already Ready
   * (or Failed, on a failing model) when it is: their starts take no time.
   */
  pools: Schema.optionalWith(Schema.Array(PoolSpec), { default: () => [] }),
  /** Where every engine "listens": the `url` of handoffs and leases (default `placeholderUrl`). */
  engineUrl: Schema.optionalWith(Schema.String, { default: () => placeholderUrl }),
  /** Per-pool engine URLs (pool id → URL), over `engineUrl`. */
  engineUrls: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), {
    default: () => ({})
  }),
  /** How long an engine start takes, in milliseconds on the `Clock` (default 0). */
  startupMs: Schema.optionalWith(NonNegativeInt, { default: () => 0 }),
  /** Models whose engine fails to start (`PreloadFailed` with kind `EngineExited`, exit code 1). */
  failingModels: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  /** The engine version handoffs and statuses report (default `in-memory`). */
  engineVersion: Schema.optionalWith(Schema.String, { default: () => "in-memory" }),
  /** How long `remove` and a `reload` without `deadlineMs` let leases run, in milliseconds (default 30 000). */
  shutdownDeadlineMs: Schema.optionalWith(NonNegativeInt, { default: () => 30_000 }),
  /** The version `health` reports (default `0.0.0`). */
  version: Schema.optionalWith(Schema.String, { default: () => "0.0.0" }),
  /** The model catalog, its devices and its policies, as the embedded manager's. */
  ...catalogFields
}) {}

/**
 * What `layer` and `make` accept: an `InMemoryOptions` or its plain-object form (defaults filled in).
 *
 * @category models
 * @since 0.1.0
 */
export type InMemoryOptionsInput = InMemoryOptions | typeof InMemoryOptions.Encoded

/**
 * A scripted engine failure: what the pool's `lastError` says (kind `EngineExited` by default).
 *
 * @category models
 * @since 0.1.0
 */
export class ScriptedFailure extends Schema.Class<ScriptedFailure>("ScriptedFailure")({
  kind: Schema.optionalWith(FailureKind, { default: () => "EngineExited" as const }),
  message: Schema.String,
  exitCode: Schema.optional(Schema.Int),
  stderrTail: Schema.optional(Schema.String)
}) {}

/**
 * How a test scripts the engines of the in-memory manager. Every change is published as a
 * `StatusChanged`, like the manager's own.
 *
 * @category models
 * @since 0.1.0
 */
export interface ControlService {
  /**
   * Puts the pool in `state`. `Ready` gets the pool an engine (a new generation and handoff) when it
   * has none; `Draining` keeps the engine and its leases but grants no more; every other state
   * drops the engine: its handoff goes and its leases are invalidated (releasing them changes
   * nothing). No supervisor acts on it: the pool stays in `state` until an operation moves it.
   */
  readonly setState: (poolId: PoolId, state: PoolState) => Effect.Effect<PoolStatus, PoolNotFound>
  /**
   * The pool's engine failed and the restart circuit opened: state `Failed` with `lastError`, no
   * handoff, the engine's leases invalidated. `preload` or `reload` starts it again.
   */
  readonly fail: (
    poolId: PoolId,
    lastError: ScriptedFailure | typeof ScriptedFailure.Encoded
  ) => Effect.Effect<PoolStatus, PoolNotFound>
  /**
   * The pool's engine crashed and the supervisor restarts it: `Backoff` with `lastError`,
   * `nextRestartAt` and the engine's leases invalidated; after `restartAfterMs` (default 1 000) on the
   * clock `Starting`, and after `startupMs` `Ready` again with `restarts + 1` (or `Failed`, on a
   * failing model). An operation or another control call before then cancels the restart.
   */
  readonly crash: (
    poolId: PoolId,
    lastError: ScriptedFailure | typeof ScriptedFailure.Encoded,
    restartAfterMs?: number
  ) => Effect.Effect<PoolStatus, PoolNotFound>
  /** From now on, starts of `model` fail (`true`) or succeed (`false`), as `failingModels`. */
  readonly failStarts: (model: string, fails: boolean) => Effect.Effect<void>
}

/**
 * The tag of the in-memory manager's `ControlService`, provided by `layer` beside `PoolManager`.
 *
 * @example
 * ```ts
 * import { PoolId, PoolManager, PoolSpec } from "@llama-orch/pool-core"
 * // this module alone loads no test runner (`@llama-orch/pool-core/testing` loads @effect/vitest)
 * import * as InMemoryPoolManager from "@llama-orch/pool-core/InMemoryPoolManager"
 * import { Effect } from "effect"
 *
 * const p1 = PoolId.make("p1")
 *
 * // the engine of p1 fails for good: the pool is Failed, with the error an operator would read
 * const program = Effect.gen(function*() {
 *   const control = yield* InMemoryPoolManager.Control
 *   yield* control.fail(p1, { message: "CUDA error: out of memory", exitCode: 1 })
 *   const status = yield* Effect.flatMap(PoolManager, (pools) => pools.status(p1))
 *   return `${status.state}: ${status.lastError?.message}`
 * })
 *
 * Effect.runPromise(program.pipe(
 *   Effect.provide(InMemoryPoolManager.layer({ pools: [PoolSpec.make({ id: p1, engine: "mock", model: "tiny" })] }))
 * )).then(console.log)
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class Control extends Context.Tag("@llama-orch/pool-core/InMemoryPoolManager/Control")<
  Control,
  ControlService
>() {}

/**
 * Decodes options, filling in defaults. Invalid options are a defect (a programming error).
 *
 * @category utils
 * @since 0.1.0
 */
export const decodeOptions = (input: InMemoryOptionsInput): Effect.Effect<InMemoryOptions> =>
  input instanceof InMemoryOptions ? Effect.succeed(input) : Effect.orDie(Schema.decodeUnknown(InMemoryOptions)(input))

/**
 * Creates the manager and its control in the current scope. Closing the scope ends the pools at
 * once (there are no engines to drain: leases still held are invalidated) and ends `events` and
 * `watch`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  options: InMemoryOptionsInput = {}
): Effect.Effect<{ readonly manager: PoolManagerService; readonly control: ControlService }, never, Scope.Scope> =>
  Effect.flatMap(decodeOptions(options), makeInMemoryPoolManager)

/**
 * The in-memory `PoolManager` and its `Control`, fresh for every build of the layer.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: InMemoryOptionsInput = {}): Layer.Layer<PoolManager | Control> =>
  Layer.scopedContext(
    Effect.map(make(options), ({ control, manager }) =>
      Context.make(PoolManager, manager).pipe(Context.add(Control, control)))
  )
