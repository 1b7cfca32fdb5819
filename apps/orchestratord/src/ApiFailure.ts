/**
 * `ApiFailure`: every error the HTTP API answers with, as a status and the §5 error envelope, plus
 * the mappings from the typed errors of orchestrator-core and pool-core and the two renderings (the
 * llama-orch envelope and the OpenAI envelope).
 *
 * @since 0.1.0
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { RequestGuard } from "@llama-orch/daemon-kit"
import type { EngineTransport, Failed, SubmitError, TaskNotFound } from "@llama-orch/orchestrator-core"
import { ErrorEnvelope } from "@llama-orch/orchestrator-core"
import type {
  PoolDraining,
  PoolManagerUnavailable,
  PoolNotFound,
  PoolUnready,
  PreloadFailed,
  ReloadFailed,
  SlotsExhausted,
  Unauthorized
} from "@llama-orch/pool-core"
import * as Data from "effect/Data"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { PoolOperationFailed } from "./WireSchemas.js"

/**
 * A failed request: the HTTP status and the error envelope (with `rolled_back` and the engine's
 * stderr tail for failed reloads and preloads).
 *
 * @since 0.1.0
 */
export class ApiFailure extends Data.TaggedError("ApiFailure")<{
  readonly status: number
  readonly envelope: ErrorEnvelope
  readonly rolledBack?: boolean | undefined
  readonly stderrTail?: string | undefined
  /** The request field at fault (OpenAI's `error.param`), when one is. */
  readonly param?: string | undefined
}> {}

type EngineFailure = EngineTransport.EngineFailure

const make = (
  status: number,
  fields: ConstructorParameters<typeof ErrorEnvelope>[0],
  extra?: { rolledBack?: boolean; stderrTail?: string | undefined; param?: string | undefined }
): ApiFailure => new ApiFailure({ status, envelope: new ErrorEnvelope(fields), ...extra })

const clampRetry = (ms: number): number => Math.min(60_000, Math.max(100, Math.round(ms)))

/** @since 0.1.0 */
export const invalidParams = (message: string, param?: string): ApiFailure =>
  make(400, { code: "INVALID_PARAMS", message, retriable: false }, param === undefined ? undefined : { param })

/** @since 0.1.0 */
export const payloadTooLarge = (limit: number): ApiFailure =>
  make(413, { code: "INVALID_PARAMS", message: `request body exceeds ${limit} bytes`, retriable: false })

/** @since 0.1.0 */
export const unauthorized = (message: string): ApiFailure =>
  make(401, { code: "UNAUTHORIZED", message, retriable: false })

/**
 * A request the guard refused: 403 `FORBIDDEN` (foreign `Host` or `Origin`) or 415
 * `UNSUPPORTED_MEDIA_TYPE` (a body that is not JSON).
 *
 * @since 0.1.0
 */
export const fromRefusal = (refusal: RequestGuard.Refusal): ApiFailure =>
  make(refusal.status, {
    code: refusal.status === 415 ? "UNSUPPORTED_MEDIA_TYPE" : "FORBIDDEN",
    message: refusal.message,
    retriable: false
  })

/** @since 0.1.0 */
export const notFound = (message: string): ApiFailure => make(404, { code: "NOT_FOUND", message, retriable: false })

/** @since 0.1.0 */
export const methodNotAllowed = (message: string): ApiFailure =>
  make(405, { code: "INVALID_PARAMS", message, retriable: false })

/** @since 0.1.0 */
export const internal = (correlationId: string): ApiFailure =>
  make(500, {
    code: "INTERNAL",
    message: `internal error (correlation id ${correlationId})`,
    retriable: false
  })

/** @since 0.1.0 */
export const shuttingDown = (): ApiFailure =>
  make(503, {
    code: "POOL_UNAVAILABLE",
    message: "orchestratord is shutting down",
    retriable: true,
    retryAfterMs: 1_000,
    policyLabel: "shutdown"
  })

/**
 * A pool whose restart circuit is open (state `Failed`): 503 `POOL_UNREADY`, not retriable and
 * without `Retry-After`, since it stays down until an operator preloads or reloads it (it was
 * retriable with `Retry-After: 1`, so clients retried forever).
 *
 * @since 0.1.0
 */
export const poolFailed = (message: string, poolId: string | undefined): ApiFailure =>
  make(503, {
    code: "POOL_UNREADY",
    message,
    retriable: false,
    policyLabel: "pool-failed",
    ...(poolId === undefined ? {} : { poolId })
  })

/**
 * Maps a schema failure to `INVALID_PARAMS`, naming the first offending field.
 *
 * @since 0.1.0
 */
export const fromParseError = (error: ParseResult.ParseError): ApiFailure => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  if (first === undefined) return invalidParams("invalid request body")
  const field = first.path.map(String).join(".")
  return field === "" ? invalidParams(first.message) : invalidParams(`${field}: ${first.message}`, field)
}

/**
 * An engine's refusal or failure, for answers relayed from an engine (embeddings): a 4xx or a 501
 * (an engine that does not serve the operation) is the request's fault, 400 with the engine's
 * words; anything else is a 502 `WORKER_RESET`, retriable.
 *
 * @since 0.1.0
 */
export const fromEngineFailure = (error: EngineFailure): ApiFailure =>
  error.status !== undefined && ((error.status >= 400 && error.status < 500) || error.status === 501)
    ? invalidParams(`the engine refused the request: ${error.reason} (HTTP ${error.status})`, "model")
    : make(502, { code: "WORKER_RESET", message: error.message, retriable: true })

/**
 * A model no pool serves (`GET /v1/models/{id}`).
 *
 * @since 0.1.0
 */
export const modelNotFound = (model: string): ApiFailure =>
  make(404, { code: "MODEL_NOT_FOUND", message: `no pool serves model ${model}`, retriable: false }, {
    param: "model"
  })

/**
 * Maps the typed errors of `Orchestrator.submit`.
 *
 * @since 0.1.0
 */
export const fromSubmitError = (error: SubmitError): ApiFailure => {
  switch (error._tag) {
    case "InvalidParams":
      return invalidParams(error.message)
    case "ModelNotFound":
      return make(404, { code: "MODEL_NOT_FOUND", message: error.message, retriable: false })
    case "AdmissionRejected":
      return make(429, {
        code: "ADMISSION_REJECT",
        message: error.message,
        retriable: true,
        retryAfterMs: clampRetry(error.retryAfterMs),
        policyLabel: error.policy
      })
    case "BudgetExceeded":
      return make(429, {
        code: "BUDGET_EXCEEDED",
        message: error.message,
        retriable: true,
        retryAfterMs: clampRetry(error.retryAfterMs),
        policyLabel: "session-budget"
      })
    case "NoReadyPool":
      if (error.failed === true) return poolFailed(error.message, error.poolId)
      return make(503, {
        code: "POOL_UNREADY",
        message: error.message,
        retriable: true,
        retryAfterMs: clampRetry(error.retryAfterMs),
        policyLabel: "pool-unready",
        ...(error.poolId === undefined ? {} : { poolId: error.poolId })
      })
    case "PoolsUnavailable":
      return make(503, {
        code: "POOL_UNAVAILABLE",
        message: error.message,
        retriable: true,
        retryAfterMs: clampRetry(error.retryAfterMs),
        policyLabel: "pool-manager-unavailable"
      })
  }
}

/** @since 0.1.0 */
export const fromTaskNotFound = (error: TaskNotFound): ApiFailure => notFound(error.message)

/**
 * The errors of the pool manager the control plane can meet.
 *
 * @since 0.1.0
 */
export type PoolError =
  | PoolNotFound
  | PreloadFailed
  | ReloadFailed
  | PoolUnready
  | PoolDraining
  | SlotsExhausted
  | PoolManagerUnavailable
  | Unauthorized

/**
 * Maps the typed errors of the pool manager.
 *
 * @since 0.1.0
 */
export const fromPoolError = (error: PoolError): ApiFailure => {
  switch (error._tag) {
    case "PoolNotFound":
      return make(404, { code: "NOT_FOUND", message: error.message, retriable: false, poolId: error.poolId })
    case "PreloadFailed":
      return make(502, {
        code: "POOL_UNREADY",
        message: `pool ${error.poolId}: engine ${error.engine} failed to start: ${error.kind}: ${error.reason}`,
        retriable: true,
        poolId: error.poolId,
        engine: error.engine
      }, { stderrTail: error.stderrTail })
    case "ReloadFailed":
      return make(502, {
        code: "POOL_UNREADY",
        message: `pool ${error.poolId}: reload failed${
          error.rolledBack ? " and was rolled back" : ""
        }: ${error.cause.kind}: ${error.cause.reason}`,
        retriable: true,
        poolId: error.poolId,
        engine: error.engine
      }, { rolledBack: error.rolledBack, stderrTail: error.cause.stderrTail })
    case "PoolUnready":
    case "PoolDraining":
    case "SlotsExhausted":
      if (error._tag === "PoolUnready" && error.state === "Failed") {
        return poolFailed(
          `${error.message}: its restart circuit is open; it stays down until an operator preloads or reloads it`,
          error.poolId
        )
      }
      return make(503, {
        code: "POOL_UNREADY",
        message: error.message,
        retriable: true,
        retryAfterMs: 1_000,
        policyLabel: "pool-unready",
        poolId: error.poolId
      })
    case "PoolManagerUnavailable":
    case "Unauthorized":
      return make(503, {
        code: "POOL_UNAVAILABLE",
        message: error._tag === "Unauthorized"
          ? "the pool manager refused orchestratord's token"
          : "the pool manager is unreachable",
        retriable: true,
        retryAfterMs: 1_000,
        policyLabel: "pool-manager-unavailable"
      })
  }
}

const encodeBody = Schema.encodeSync(PoolOperationFailed)

const backoffHeaders = (failure: ApiFailure): Record<string, string> => {
  const retryAfterMs = failure.envelope.retryAfterMs
  if ((failure.status !== 429 && failure.status !== 503) || retryAfterMs === undefined) return {}
  return {
    "retry-after": String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
    "x-backoff-ms": String(Math.round(retryAfterMs))
  }
}

/**
 * Renders a failure as the llama-orch error envelope, with `Retry-After` and `X-Backoff-Ms` on 429
 * and 503.
 *
 * @since 0.1.0
 */
export const toResponse = (failure: ApiFailure): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(
    encodeBody(
      new PoolOperationFailed({
        ...failure.envelope,
        ...(failure.rolledBack === undefined ? {} : { rolledBack: failure.rolledBack }),
        ...(failure.stderrTail === undefined ? {} : { stderrTail: failure.stderrTail })
      })
    ),
    { status: failure.status, headers: backoffHeaders(failure) }
  )

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
    case 500:
      return "server_error"
    case 502:
    case 503:
      return "service_unavailable"
    default:
      return "invalid_request_error"
  }
}

/**
 * Renders a failure as the OpenAI error envelope `{ error: { message, type, code } }`, keeping the
 * status and the backoff headers.
 *
 * @since 0.1.0
 */
export const toOpenAiResponse = (failure: ApiFailure): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(
    {
      error: {
        message: failure.envelope.message,
        type: openAiType(failure.status),
        code: failure.envelope.code.toLowerCase(),
        param: failure.param ?? null
      }
    },
    { status: failure.status, headers: backoffHeaders(failure) }
  )

const streamStatus = (code: string): number => {
  switch (code) {
    case "QUEUE_FULL_DROP_LRU":
      return 429
    case "CANCELLED":
      return 409
    case "WORKER_RESET":
      return 502
    case "POOL_UNREADY":
    case "POOL_UNAVAILABLE":
      return 503
    case "DECODE_TIMEOUT":
      return 504
    default:
      return 500
  }
}

/**
 * Maps a task's in-stream `error` event to a failure, for answers that are not streamed (the
 * non-streaming OpenAI routes).
 *
 * @since 0.1.0
 */
export const fromStreamError = (event: Failed): ApiFailure =>
  make(streamStatus(event.code), {
    code: event.code,
    message: event.message,
    retriable: event.retriable,
    ...(event.retryAfterMs === undefined ? {} : { retryAfterMs: event.retryAfterMs })
  })
