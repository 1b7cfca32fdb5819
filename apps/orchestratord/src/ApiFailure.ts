/**
 * `ApiFailure`: every error the HTTP API answers with, as a status and the §5 error envelope. The
 * one table of error tags to codes and HTTP statuses (`errorTable`), the one retry clamp
 * (`clampRetry`) and the mappings from the typed errors of orchestrator-core and pool-core; the two
 * renderings (the llama-orch envelope and the OpenAI envelope) are in `ErrorResponses`.
 *
 * @since 0.1.0
 */
import type { RequestGuard } from "@llama-orch/daemon-kit"
import type {
  EngineTransport,
  ErrorCode,
  Failed,
  ModelLoadFailed,
  SubmitError,
  TaskNotFound
} from "@llama-orch/orchestrator-core"
import { ErrorEnvelope } from "@llama-orch/orchestrator-core"
import type {
  InsufficientMemory,
  ModelLoadFailed as PoolModelLoadFailed,
  ModelNotFound as CatalogModelNotFound,
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

/**
 * Every kind of failure the API answers with, by the tag of the error behind it: its error code
 * and HTTP status. `Unauthenticated` is the API's own 401; pool-core's `Unauthorized` is the pool
 * manager refusing orchestratord's token.
 *
 * @since 0.1.0
 */
export const errorTable = {
  // the request itself
  InvalidParams: { code: "INVALID_PARAMS", status: 400 },
  Unauthenticated: { code: "UNAUTHORIZED", status: 401 },
  Forbidden: { code: "FORBIDDEN", status: 403 },
  RouteNotFound: { code: "NOT_FOUND", status: 404 },
  PayloadTooLarge: { code: "INVALID_PARAMS", status: 413 },
  UnsupportedMediaType: { code: "UNSUPPORTED_MEDIA_TYPE", status: 415 },
  ShuttingDown: { code: "POOL_UNAVAILABLE", status: 503 },
  Internal: { code: "INTERNAL", status: 500 },
  // orchestrator-core: admission and tasks
  ModelNotFound: { code: "MODEL_NOT_FOUND", status: 404 },
  TaskNotFound: { code: "NOT_FOUND", status: 404 },
  AdmissionRejected: { code: "ADMISSION_REJECT", status: 429 },
  BudgetExceeded: { code: "BUDGET_EXCEEDED", status: 429 },
  NoReadyPool: { code: "POOL_UNREADY", status: 503 },
  PoolsUnavailable: { code: "POOL_UNAVAILABLE", status: 503 },
  EngineFailure: { code: "WORKER_RESET", status: 502 },
  // an on-demand or control-plane model load: the engine failed, or the model does not fit now
  ModelLoadFailed: { code: "MODEL_LOAD_FAILED", status: 502 },
  InsufficientMemory: { code: "MODEL_LOAD_FAILED", status: 503 },
  // orchestrator-core: how a running task failed (its stream's `failed` event)
  Cancelled: { code: "CANCELLED", status: 409 },
  QueueFullDropLru: { code: "QUEUE_FULL_DROP_LRU", status: 429 },
  DecodeTimeout: { code: "DECODE_TIMEOUT", status: 504 },
  // pool-core
  PoolNotFound: { code: "NOT_FOUND", status: 404 },
  PreloadFailed: { code: "POOL_UNREADY", status: 502 },
  ReloadFailed: { code: "POOL_UNREADY", status: 502 },
  PoolUnready: { code: "POOL_UNREADY", status: 503 },
  PoolDraining: { code: "POOL_UNREADY", status: 503 },
  SlotsExhausted: { code: "POOL_UNREADY", status: 503 },
  PoolManagerUnavailable: { code: "POOL_UNAVAILABLE", status: 503 },
  Unauthorized: { code: "POOL_UNAVAILABLE", status: 503 }
} as const satisfies Record<string, { readonly code: ErrorCode; readonly status: number }>

/**
 * A tag of `errorTable`.
 *
 * @since 0.1.0
 */
export type ErrorTag = keyof typeof errorTable

/**
 * The tag whose status a task's `failed` event answers with when the answer is not streamed, by
 * the event's code.
 *
 * @since 0.1.0
 */
export const streamFailureTag: { readonly [C in ErrorCode]: ErrorTag } = {
  INVALID_PARAMS: "InvalidParams",
  UNAUTHORIZED: "Unauthenticated",
  FORBIDDEN: "Forbidden",
  UNSUPPORTED_MEDIA_TYPE: "UnsupportedMediaType",
  NOT_FOUND: "TaskNotFound",
  MODEL_NOT_FOUND: "ModelNotFound",
  ADMISSION_REJECT: "AdmissionRejected",
  QUEUE_FULL_DROP_LRU: "QueueFullDropLru",
  BUDGET_EXCEEDED: "BudgetExceeded",
  POOL_UNREADY: "NoReadyPool",
  POOL_UNAVAILABLE: "PoolsUnavailable",
  MODEL_LOAD_FAILED: "ModelLoadFailed",
  DECODE_TIMEOUT: "DecodeTimeout",
  WORKER_RESET: "EngineFailure",
  CANCELLED: "Cancelled",
  INTERNAL: "Internal"
}

/**
 * The retry advice of every retriable failure, in milliseconds, clamped to 100 ms .. 60 s.
 *
 * @since 0.1.0
 */
export const clampRetry = (ms: number): number => Math.min(60_000, Math.max(100, Math.round(ms)))

/**
 * The retry advice of failures that have no estimate of their own (shutdown, the pool manager).
 *
 * @since 0.1.0
 */
export const defaultRetryAfterMs = 1_000

type Fields = Omit<ConstructorParameters<typeof ErrorEnvelope>[0], "code">

/**
 * A failure of the kind `tag`: code and status from `errorTable`, the retry advice clamped.
 *
 * @since 0.1.0
 */
export const failure = (
  tag: ErrorTag,
  fields: Fields,
  extra?: { rolledBack?: boolean; stderrTail?: string | undefined; param?: string | undefined }
): ApiFailure => {
  const { code, status } = errorTable[tag]
  const retryAfterMs = fields.retryAfterMs === undefined ? {} : { retryAfterMs: clampRetry(fields.retryAfterMs) }
  return new ApiFailure({ status, envelope: new ErrorEnvelope({ code, ...fields, ...retryAfterMs }), ...extra })
}

/** @since 0.1.0 */
export const invalidParams = (message: string, param?: string): ApiFailure =>
  failure("InvalidParams", { message, retriable: false }, param === undefined ? undefined : { param })

/** @since 0.1.0 */
export const payloadTooLarge = (limit: number): ApiFailure =>
  failure("PayloadTooLarge", { message: `request body exceeds ${limit} bytes`, retriable: false })

/** @since 0.1.0 */
export const unauthorized = (message: string): ApiFailure => failure("Unauthenticated", { message, retriable: false })

/**
 * A request the guard refused: 403 `FORBIDDEN` (foreign `Host` or `Origin`) or 415
 * `UNSUPPORTED_MEDIA_TYPE` (a body that is not JSON).
 *
 * @since 0.1.0
 */
export const fromRefusal = (refusal: RequestGuard.Refusal): ApiFailure =>
  failure(refusal.status === 415 ? "UnsupportedMediaType" : "Forbidden", {
    message: refusal.message,
    retriable: false
  })

/** @since 0.1.0 */
export const notFound = (message: string): ApiFailure => failure("RouteNotFound", { message, retriable: false })

/** @since 0.1.0 */
export const internal = (correlationId: string): ApiFailure =>
  failure("Internal", { message: `internal error (correlation id ${correlationId})`, retriable: false })

/** @since 0.1.0 */
export const shuttingDown = (): ApiFailure =>
  failure("ShuttingDown", {
    message: "orchestratord is shutting down",
    retriable: true,
    retryAfterMs: defaultRetryAfterMs,
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
  failure("NoReadyPool", {
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
export const fromEngineFailure = (error: EngineTransport.EngineFailure): ApiFailure =>
  error.status !== undefined && ((error.status >= 400 && error.status < 500) || error.status === 501)
    ? invalidParams(`the engine refused the request: ${error.reason} (HTTP ${error.status})`, "model")
    : failure("EngineFailure", { message: error.message, retriable: true })

/**
 * A model no pool serves (`GET /v1/models/{id}`).
 *
 * @since 0.1.0
 */
export const modelNotFound = (model: string): ApiFailure =>
  failure("ModelNotFound", { message: `no pool serves model ${model}`, retriable: false }, { param: "model" })

/**
 * Maps the typed errors of `Orchestrator.submit`.
 *
 * @since 0.1.0
 */
export const fromSubmitError = (error: SubmitError): ApiFailure => {
  const message = error.message
  switch (error._tag) {
    case "InvalidParams":
    case "ModelNotFound":
      return failure(error._tag, { message, retriable: false })
    case "AdmissionRejected":
      return failure(error._tag, {
        message,
        retriable: true,
        retryAfterMs: error.retryAfterMs,
        policyLabel: error.policy
      })
    case "BudgetExceeded":
      return failure(error._tag, {
        message,
        retriable: true,
        retryAfterMs: error.retryAfterMs,
        policyLabel: "session-budget"
      })
    case "NoReadyPool":
      if (error.failed === true) return poolFailed(message, error.poolId)
      return failure(error._tag, {
        message,
        retriable: true,
        retryAfterMs: error.retryAfterMs,
        policyLabel: "pool-unready",
        ...(error.poolId === undefined ? {} : { poolId: error.poolId })
      })
    case "PoolsUnavailable":
      return failure(error._tag, {
        message,
        retriable: true,
        retryAfterMs: error.retryAfterMs,
        policyLabel: "pool-manager-unavailable"
      })
  }
}

/**
 * A model that did not load on demand (embeddings): 502 when its engine failed, 503 (retriable,
 * with `retry_after_ms`) when it did not fit or did not load in time; `MODEL_LOAD_FAILED` either way.
 *
 * @since 0.1.0
 */
export const fromModelLoadFailed = (error: ModelLoadFailed): ApiFailure =>
  failure(error.retryAfterMs === undefined ? "ModelLoadFailed" : "InsufficientMemory", {
    message: error.message,
    retriable: error.retryAfterMs !== undefined,
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs })
  }, { param: "model" })

/** @since 0.1.0 */
export const fromTaskNotFound = (error: TaskNotFound): ApiFailure =>
  failure(error._tag, { message: error.message, retriable: false })

/**
 * The errors of the pool manager the control plane can meet.
 *
 * @since 0.1.0
 */
export type PoolError =
  | CatalogModelNotFound
  | PoolModelLoadFailed
  | InsufficientMemory
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
      return failure(error._tag, { message: error.message, retriable: false, poolId: error.poolId })
    case "ModelNotFound":
      return failure(error._tag, { message: error.message, retriable: false })
    case "ModelLoadFailed":
      return failure(error._tag, { message: error.message, retriable: true }, { stderrTail: error.stderrTail })
    case "InsufficientMemory":
      return failure(error._tag, {
        message: error.message,
        retriable: true,
        retryAfterMs: defaultRetryAfterMs,
        policyLabel: "insufficient-memory"
      })
    case "PreloadFailed":
      return failure(error._tag, {
        message: `pool ${error.poolId}: engine ${error.engine} failed to start: ${error.kind}: ${error.reason}`,
        retriable: true,
        poolId: error.poolId,
        engine: error.engine
      }, { stderrTail: error.stderrTail })
    case "ReloadFailed":
      return failure(error._tag, {
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
      return failure(error._tag, {
        message: error.message,
        retriable: true,
        retryAfterMs: defaultRetryAfterMs,
        policyLabel: "pool-unready",
        poolId: error.poolId
      })
    case "PoolManagerUnavailable":
    case "Unauthorized":
      return failure(error._tag, {
        message: error._tag === "Unauthorized"
          ? "the pool manager refused orchestratord's token"
          : "the pool manager is unreachable",
        retriable: true,
        retryAfterMs: defaultRetryAfterMs,
        policyLabel: "pool-manager-unavailable"
      })
  }
}

/**
 * Maps a task's in-stream `failed` event to a failure, for answers that are not streamed (the
 * non-streaming OpenAI routes): the status of its code's tag.
 *
 * @since 0.1.0
 */
export const fromStreamError = (event: Failed): ApiFailure =>
  failure(streamFailureTag[event.code], {
    message: event.message,
    retriable: event.retriable,
    ...(event.retryAfterMs === undefined ? {} : { retryAfterMs: event.retryAfterMs })
  })
