/**
 * Turning typed failures into the API's error responses (the native body or the OpenAI one).
 *
 * @internal
 */
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import type { ApiFailure } from "../ApiFailure.js"
import { toOpenAiResponse, toResponse } from "../ErrorResponses.js"

/** Answers an `ApiFailure` with the llama-orch error envelope. */
export const recover = <R>(
  effect: Effect.Effect<HttpServerResponse.HttpServerResponse, ApiFailure, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
  Effect.catchTag(effect, "ApiFailure", (failure) => Effect.succeed(toResponse(failure)))

/** Answers an `ApiFailure` with the OpenAI error envelope. */
export const recoverOpenAi = <R>(
  effect: Effect.Effect<HttpServerResponse.HttpServerResponse, ApiFailure, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
  Effect.catchTag(effect, "ApiFailure", (failure) => Effect.succeed(toOpenAiResponse(failure)))
