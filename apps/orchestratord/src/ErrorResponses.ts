/**
 * The two renderings of an `ApiFailure`: the llama-orch envelope (`/v2`, meta) and OpenAI's
 * (`/v1`), both encoded with the schemas the OpenAPI document declares, with the backoff headers
 * of retriable 429 and 503 answers.
 *
 * @since 0.1.0
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Schema from "effect/Schema"
import type { ApiFailure } from "./ApiFailure.js"
import { OpenAiError } from "./OpenAiSchemas.js"
import { PoolOperationFailed } from "./WireSchemas.js"

/**
 * Whether a path is on the OpenAI-compatible surface, whose errors use OpenAI's envelope.
 *
 * @since 0.1.0
 */
export const isOpenAiPath = (path: string): boolean => path.startsWith("/v1/")

/**
 * The headers of a retriable 429 or 503: `Retry-After` in whole seconds (at least 1) and
 * `X-Backoff-Ms`, from the envelope's `retry_after_ms`.
 *
 * @since 0.1.0
 */
export const backoffHeaders = (failure: ApiFailure): Record<string, string> => {
  const retryAfterMs = failure.envelope.retryAfterMs
  if ((failure.status !== 429 && failure.status !== 503) || retryAfterMs === undefined) return {}
  return {
    "retry-after": String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
    "x-backoff-ms": String(Math.round(retryAfterMs))
  }
}

const encodeEnvelope = Schema.encodeSync(PoolOperationFailed)

/**
 * The llama-orch error body of a failure (the envelope, plus `rolled_back` and `stderr_tail` for
 * failed reloads and preloads).
 *
 * @since 0.1.0
 */
export const errorBody = (failure: ApiFailure): typeof PoolOperationFailed.Encoded =>
  encodeEnvelope(
    new PoolOperationFailed({
      ...failure.envelope,
      ...(failure.rolledBack === undefined ? {} : { rolledBack: failure.rolledBack }),
      ...(failure.stderrTail === undefined ? {} : { stderrTail: failure.stderrTail })
    })
  )

/**
 * Renders a failure as the llama-orch error envelope, with `Retry-After` and `X-Backoff-Ms` on 429
 * and 503.
 *
 * @since 0.1.0
 */
export const toResponse = (failure: ApiFailure): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(errorBody(failure), { status: failure.status, headers: backoffHeaders(failure) })

const openAiType = (status: number): string => {
  switch (status) {
    case 401:
      return "authentication_error"
    case 403:
      return "permission_error"
    case 404:
      return "not_found_error"
    case 429:
      return "rate_limit_error"
    case 502:
    case 503:
      return "service_unavailable"
    default:
      return status >= 500 ? "server_error" : "invalid_request_error"
  }
}

const encodeOpenAiError = Schema.encodeSync(OpenAiError)

/**
 * The OpenAI error body of a failure, `{ error: { message, type, code, param } }`: the answer of a
 * failed `/v1` request, and the last event of a `/v1` stream whose task failed.
 *
 * @since 0.1.0
 */
export const openAiErrorBody = (failure: ApiFailure): typeof OpenAiError.Encoded =>
  encodeOpenAiError({
    error: {
      message: failure.envelope.message,
      type: openAiType(failure.status),
      code: failure.envelope.code.toLowerCase(),
      param: failure.param ?? null
    }
  })

/**
 * Renders a failure as the OpenAI error envelope, keeping the status and the backoff headers.
 *
 * @since 0.1.0
 */
export const toOpenAiResponse = (failure: ApiFailure): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(openAiErrorBody(failure), {
    status: failure.status,
    headers: backoffHeaders(failure)
  })

/**
 * Renders a failure for the surface `path` is on.
 *
 * @since 0.1.0
 */
export const toResponseFor = (path: string, failure: ApiFailure): HttpServerResponse.HttpServerResponse =>
  isOpenAiPath(path) ? toOpenAiResponse(failure) : toResponse(failure)
