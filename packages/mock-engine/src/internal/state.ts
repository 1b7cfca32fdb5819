/**
 * The running engine's shared state: slots (FIFO), counters for `/metrics`, loading and fault injection.
 *
 * @internal
 */
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import { EngineConfig, type EngineSettings } from "./config.js"
import { makeSlotPool } from "./slots.js"

/** Counters exported on `/metrics`. */
export interface Counters {
  readonly promptTokensTotal: number
  readonly promptMsTotal: number
  readonly tokensPredictedTotal: number
  readonly predictedMsTotal: number
  readonly requestsProcessing: number
  readonly requestsDeferred: number
  readonly maxConcurrentRequests: number
  readonly decodeTotal: number
}

const zeroCounters: Counters = {
  promptTokensTotal: 0,
  promptMsTotal: 0,
  tokensPredictedTotal: 0,
  predictedMsTotal: 0,
  requestsProcessing: 0,
  requestsDeferred: 0,
  maxConcurrentRequests: 0,
  decodeTotal: 0
}

/** Writes one log line to stderr, the way llama-server logs. */
export const logLine = (line: string): Effect.Effect<void> => Console.error(line)

/** Pause before the next token: 1000/tps ms, or just a turn of the event loop when tps is 0. */
const pace = (tps: number): Effect.Effect<void> =>
  tps > 0 ?
    Effect.sleep(Duration.millis(1000 / tps)) :
    Effect.async<void>((resume) => {
      const handle = setImmediate(() => resume(Effect.void))
      return Effect.sync(() => clearImmediate(handle))
    })

/** Builds the engine state in the server's scope (the model load runs in it). */
const make = Effect.gen(function*() {
  const config = yield* EngineConfig
  const slots = yield* makeSlotPool(config.slots)
  const busy = yield* Ref.make<ReadonlySet<number>>(new Set())
  const counters = yield* Ref.make(zeroCounters)
  const tokensEmitted = yield* Ref.make(0)
  const sequence = yield* Ref.make(0)
  const loaded = yield* Deferred.make<void>()

  yield* loadModel(config).pipe(
    Effect.zipRight(Deferred.succeed(loaded, undefined)),
    Effect.forkScoped
  )

  const update = (f: (c: Counters) => Counters) => Ref.update(counters, f)

  /** Waits (FIFO) for a free slot and holds it for the rest of the scope; only the wait is interruptible. */
  const acquireSlot: Effect.Effect<number, never, Scope.Scope> = Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      yield* update((c) => ({ ...c, requestsDeferred: c.requestsDeferred + 1 }))
      const slot = yield* restore(slots.acquire).pipe(
        Effect.ensuring(update((c) => ({ ...c, requestsDeferred: c.requestsDeferred - 1 })))
      )
      yield* Ref.update(busy, (s) => new Set([...s, slot]))
      yield* update((c) => ({
        ...c,
        requestsProcessing: c.requestsProcessing + 1,
        maxConcurrentRequests: Math.max(c.maxConcurrentRequests, c.requestsProcessing + 1)
      }))
      yield* Effect.addFinalizer(() =>
        Effect.zipRight(
          update((c) => ({ ...c, requestsProcessing: c.requestsProcessing - 1 })),
          Ref.update(busy, (s) => new Set([...s].filter((id) => id !== slot)))
        )
      )
      return slot
    })
  )

  /** Exits the process abruptly once the configured number of tokens has been emitted. */
  const crashIfDue: Effect.Effect<void> = Option.match(config.crashAfterTokens, {
    onNone: () => Effect.void,
    onSome: (limit) =>
      Effect.flatMap(Ref.get(tokensEmitted), (emitted) =>
        emitted < limit ? Effect.void : Effect.gen(function*() {
          yield* logLine(`error: simulated crash after ${emitted} tokens (--crash-after-tokens ${limit})`)
          // Give the socket a moment to flush the last token before the process disappears.
          yield* Effect.sleep(Duration.millis(10))
          yield* Effect.sync(() => process.exit(config.exitCode))
          yield* Effect.never
        }))
  })

  /** Paces, then counts one emitted token. Runs before each token is handed to the client. */
  const beforeToken: Effect.Effect<void> = Effect.zipRight(crashIfDue, pace(config.tps))
  const afterToken: Effect.Effect<void> = Effect.zipRight(
    Ref.update(tokensEmitted, (n) => n + 1),
    update((c) => ({ ...c, tokensPredictedTotal: c.tokensPredictedTotal + 1, decodeTotal: c.decodeTotal + 1 }))
  )

  return {
    config,
    isLoaded: Deferred.isDone(loaded),
    acquireSlot,
    busySlots: Ref.get(busy),
    counters: Ref.get(counters),
    beforeToken,
    afterToken,
    crashIfDue,
    /** Records prompt processing and generation time once a request ends. */
    recordTimings: (promptTokens: number, promptMs: number, predictedMs: number) =>
      update((c) => ({
        ...c,
        promptTokensTotal: c.promptTokensTotal + promptTokens,
        promptMsTotal: c.promptMsTotal + promptMs,
        predictedMsTotal: c.predictedMsTotal + predictedMs
      })),
    /** A fresh id for a completion response. */
    nextId: Ref.updateAndGet(sequence, (n) => n + 1)
  } as const
})

/** What every route reads and updates: the configuration, slots, counters and pacing. */
export type EngineStateService = Effect.Effect.Success<typeof make>

/** Engine state shared by every route. */
export class EngineState extends Context.Tag("@llama-orch/mock-engine/EngineState")<EngineState, EngineStateService>() {
  /** The state as a layer, scoped to the server. */
  static readonly layer = Layer.scoped(EngineState, make)
}

/**
 * Pretends to load a model for `loadMs`, logging progress lines like llama-server; with
 * `crashDuringLoad` it exits halfway through instead.
 */
const loadModel = (
  { crashDuringLoad, exitCode, loadMs, model }: Pick<
    EngineSettings,
    "model" | "loadMs" | "crashDuringLoad" | "exitCode"
  >
): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* logLine(`llama_model_loader: loading model '${model}'`)
    if (loadMs > 0 || crashDuringLoad) {
      const steps = Math.max(1, Math.min(10, Math.floor(loadMs / 50)))
      for (let step = 1; step <= steps; step++) {
        if (crashDuringLoad && step > steps / 2) {
          yield* logLine(`llama_model_load: error loading model: simulated failure (--crash-during-load)`)
          yield* Effect.sync(() => process.exit(exitCode))
        }
        yield* Effect.sleep(Duration.millis(loadMs / steps))
        yield* logLine(`llama_model_load: loading tensors ... ${Math.round((100 * step) / steps)}%`)
      }
    }
    yield* logLine(`main: model loaded`)
    yield* logLine(`main: server is listening, all slots idle`)
  })
