/**
 * AdmissionCheck: the checks a task passes before it is queued — model known, context fits, pin valid
 * and allowed, some pool Ready or on its way. Pure over the pools' status; the session budget and
 * the queue policy are checked by the orchestrator with the same errors.
 *
 * @since 0.1.0
 */
import type { PoolStatus } from "@llama-orch/pool-core"
import * as Either from "effect/Either"
import { estimateTokens, promptText } from "./internal/prompt.js"
import { servedModel } from "./PlacementPolicy.js"
import { InvalidParams, ModelNotFound, NoReadyPool } from "./TaskErrors.js"
import type { TaskRequest } from "./TaskRequest.js"

/**
 * What admission learned: the estimated prompt tokens and the context limit it checked against.
 *
 * @category models
 * @since 0.1.0
 */
export interface Admitted {
  readonly tokensIn: number
  readonly ctxMax: number
}

/**
 * Admission settings: whether clients may pin, the wait suggested with `NoReadyPool`, and whether
 * the pool manager's catalog has the model (then it is loaded on demand: no pool needs to serve it
 * yet, and its context is checked against the pools that do).
 *
 * @category models
 * @since 0.1.0
 */
export interface AdmissionSettings {
  readonly allowPinning: boolean
  readonly retryAfterMs: number
  readonly catalogued?: boolean | undefined
}

/**
 * Pool states from which a pool becomes Ready without anyone's help.
 *
 * @category utils
 * @since 0.1.0
 */
export const comingUp: ReadonlySet<string> = new Set(["Starting", "Backoff"])

/**
 * The estimated prompt tokens of a request (chat messages rendered), ≈ ceil(chars / 4).
 *
 * @category utils
 * @since 0.1.0
 */
export const promptTokens = (request: TaskRequest): number => estimateTokens(promptText(request))

/**
 * Checks a request against the pools. The context limit is the pinned pool's, otherwise the
 * smallest of the pools serving the model, so the task fits wherever it is placed.
 *
 * @category utils
 * @since 0.1.0
 */
export const check = (
  request: TaskRequest,
  pools: ReadonlyArray<PoolStatus>,
  settings: AdmissionSettings
): Either.Either<Admitted, InvalidParams | ModelNotFound | NoReadyPool> => {
  const model = request.modelRef
  const serving = pools.filter((p) => servedModel(p) === model)
  const pin = request.placement?.pinPoolId
  if (pin !== undefined) {
    if (!settings.allowPinning) {
      return Either.left(new InvalidParams({ field: "placement.pin_pool_id", reason: "pinning is not allowed" }))
    }
    const pinned = pools.find((p) => p.poolId === pin)
    if (pinned === undefined) {
      return Either.left(new InvalidParams({ field: "placement.pin_pool_id", reason: `no pool ${pin}` }))
    }
    if (servedModel(pinned) !== model) {
      return Either.left(
        new InvalidParams({
          field: "placement.pin_pool_id",
          reason: `pool ${pin} serves ${servedModel(pinned)}, not ${model}`
        })
      )
    }
  }
  const tokensIn = promptTokens(request)
  const loadable = settings.catalogued === true && pin === undefined
  if (serving.length === 0) {
    return loadable ? Either.right({ tokensIn, ctxMax: Infinity }) : Either.left(new ModelNotFound({ model }))
  }
  const targets = pin === undefined ? serving : serving.filter((p) => p.poolId === pin)
  const ctxMax = Math.min(...targets.map((p) => p.ctxMax))
  if (tokensIn + request.maxTokens > ctxMax) {
    return Either.left(
      new InvalidParams({
        field: "max_tokens",
        reason: `prompt (~${tokensIn} tokens) + max_tokens (${request.maxTokens}) exceeds the context of ${ctxMax}`
      })
    )
  }
  // every target Failed: the restart circuit is open, and no retry brings the pool back
  const failed = targets.every((p) => p.state === "Failed")
  // a pool on an unreachable node takes no task until its node answers again
  const reachable = (p: PoolStatus) => p.nodeState !== "unreachable"
  if (pin !== undefined) {
    if (!targets.some((p) => p.state === "Ready" && reachable(p))) {
      return Either.left(new NoReadyPool({ model, poolId: pin, retryAfterMs: settings.retryAfterMs, failed }))
    }
  } else if (!loadable && !serving.some((p) => reachable(p) && (p.state === "Ready" || comingUp.has(p.state)))) {
    return Either.left(new NoReadyPool({ model, retryAfterMs: settings.retryAfterMs, failed }))
  }
  return Either.right({ tokensIn, ctxMax })
}
