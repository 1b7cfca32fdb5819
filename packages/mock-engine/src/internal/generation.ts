/**
 * One generation on one slot, as a stream of token events ending with a summary.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { countTokens, plan, type StopType } from "./generator.js"
import { reject, type Rejection } from "./http.js"
import type { EngineStateService } from "./state.js"

/** What a client asked for, protocol-neutral. */
export interface GenerationRequest {
  /** The prompt text (for chat, the rendered messages). */
  readonly prompt: string
  readonly seed: number
  /** `< 0` means "until end of sequence". */
  readonly maxTokens: number
  readonly stop: ReadonlyArray<string>
  /**
   * Turns the planned word pieces into the pieces to emit (JSON output, tool-call arguments); the
   * default emits the words.
   */
  readonly render?: ((pieces: ReadonlyArray<string>) => ReadonlyArray<string>) | undefined
}

/** llama-server's timings block. */
export interface Timings {
  readonly prompt_n: number
  readonly prompt_ms: number
  readonly prompt_per_token_ms: number
  readonly prompt_per_second: number
  readonly predicted_n: number
  readonly predicted_ms: number
  readonly predicted_per_token_ms: number
  readonly predicted_per_second: number
}

/** One emitted token. */
export interface TokenEvent {
  readonly _tag: "Token"
  readonly slot: number
  readonly piece: string
  /** Tokens predicted so far, this one included. */
  readonly predicted: number
  /** Prompt tokens evaluated for this generation. */
  readonly evaluated: number
}

/** The end of a generation. */
export interface DoneEvent {
  readonly _tag: "Done"
  readonly slot: number
  readonly content: string
  readonly stopType: StopType
  readonly stoppingWord: string
  readonly tokensPredicted: number
  readonly tokensEvaluated: number
  readonly timings: Timings
}

/** The default seed when a request gives none (or -1): output stays deterministic. */
export const defaultSeed = 0

/** Prompt processing is simulated at this cost per token (it is not slept). */
const promptMsPerToken = 0.05

/**
 * A checked generation: run it with a callback that receives each token as it is emitted (paced
 * by `--tps`); it answers the summary. The slot is taken (FIFO) when it starts and freed when it
 * ends or is interrupted.
 */
export type Generation = (onToken: (event: TokenEvent) => void) => Effect.Effect<DoneEvent>

/** Checks the request against the context size, then returns its generation. */
export const generate = (
  state: EngineStateService,
  request: GenerationRequest
): Either.Either<Generation, Rejection> => {
  const tokensEvaluated = countTokens(request.prompt)
  const ctx = state.config.ctx
  if (tokensEvaluated >= ctx) {
    return Either.left(
      reject(
        400,
        `the request exceeds the available context size (${tokensEvaluated} >= ${ctx}), try increasing it`,
        "exceed_context_size_error"
      )
    )
  }
  const planned = plan({
    prompt: request.prompt,
    seed: request.seed,
    maxTokens: request.maxTokens,
    stop: request.stop,
    ctxLeft: ctx - tokensEvaluated
  })
  const pieces = request.render === undefined ? planned.pieces : request.render(planned.pieces)
  return Either.right((onToken) =>
    Effect.scoped(Effect.gen(function*() {
      const slot = yield* state.acquireSlot
      const startedAt = yield* Clock.currentTimeMillis
      // one loop per generation, no stream stage per token
      for (let index = 0; index < pieces.length; index++) {
        yield* state.beforeToken
        yield* state.afterToken
        onToken({
          _tag: "Token",
          slot,
          piece: pieces[index] ?? "",
          predicted: index + 1,
          evaluated: tokensEvaluated
        })
      }
      yield* state.crashIfDue
      const predictedMs = (yield* Clock.currentTimeMillis) - startedAt
      const promptMs = tokensEvaluated * promptMsPerToken
      const predictedN = pieces.length
      yield* state.recordTimings(tokensEvaluated, promptMs, predictedMs)
      return {
        _tag: "Done",
        slot,
        content: pieces.join(""),
        stopType: planned.stopType,
        stoppingWord: planned.stoppingWord,
        tokensPredicted: predictedN,
        tokensEvaluated,
        timings: {
          prompt_n: tokensEvaluated,
          prompt_ms: promptMs,
          prompt_per_token_ms: tokensEvaluated > 0 ? promptMs / tokensEvaluated : 0,
          prompt_per_second: promptMs > 0 ? (1000 * tokensEvaluated) / promptMs : 0,
          predicted_n: predictedN,
          predicted_ms: predictedMs,
          predicted_per_token_ms: predictedN > 0 ? predictedMs / predictedN : 0,
          predicted_per_second: predictedMs > 0 ? (1000 * predictedN) / predictedMs : 0
        }
      } satisfies DoneEvent
    }))
  )
}

/** Runs a generation to its end and returns the summary (for non-streaming responses). */
export const collect = (generation: Generation): Effect.Effect<DoneEvent> => generation(() => {})
