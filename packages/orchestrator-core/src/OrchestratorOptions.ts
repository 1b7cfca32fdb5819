/**
 * Settings of the orchestrator layer, with defaults.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { QueuePolicy } from "./TaskQueue.js"

const PositiveInt = Schema.Int.pipe(Schema.positive())

/**
 * Orchestrator settings.
 *
 * - `queueCapacity` (1024): queued tasks per model (running tasks do not count).
 * - `policy` (`reject`): what a full queue does (see `QueuePolicy`).
 * - `firstTokenTimeoutMs` (30 s): dispatch to first token; then `DECODE_TIMEOUT`.
 * - `idleTimeoutMs` (15 s): longest gap between two tokens; then `DECODE_TIMEOUT`.
 * - `sessionTtlMs` (10 min, sliding), `sessionMaxTurns` (8), `sessionTokenBudget` (none).
 * - `retentionMs` (60 s): how long an ended task's events stay readable.
 * - `allowPinning` (true): whether requests may pin a pool.
 * - `initialServiceTimeMs` (1 s) and `serviceTimeAlpha` (0.2): the service-time moving average.
 * - `leaseRetryMs` (250 ms): how long a pool that refused a lease is skipped.
 * - `maxLoadWaitMs` (5 min): how long a task waits for its model to load on demand; then
 *   `MODEL_LOAD_FAILED` (its deadline, when shorter, ends it first).
 * - `modelAgingMs` (30 s): while models with queued work are loaded, another model's load keeps
 *   them; once its oldest task has waited this long, its load may evict them. 0 turns grouping off.
 *
 * @category models
 * @since 0.1.0
 */
export class OrchestratorOptions extends Schema.Class<OrchestratorOptions>("OrchestratorOptions")({
  queueCapacity: Schema.optionalWith(PositiveInt, { default: () => 1024 }),
  policy: Schema.optionalWith(QueuePolicy, { default: () => "reject" as const }),
  firstTokenTimeoutMs: Schema.optionalWith(PositiveInt, { default: () => 30_000 }),
  idleTimeoutMs: Schema.optionalWith(PositiveInt, { default: () => 15_000 }),
  sessionTtlMs: Schema.optionalWith(PositiveInt, { default: () => 600_000 }),
  sessionMaxTurns: Schema.optionalWith(PositiveInt, { default: () => 8 }),
  sessionTokenBudget: Schema.optional(PositiveInt),
  retentionMs: Schema.optionalWith(PositiveInt, { default: () => 60_000 }),
  allowPinning: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  initialServiceTimeMs: Schema.optionalWith(PositiveInt, { default: () => 1_000 }),
  serviceTimeAlpha: Schema.optionalWith(Schema.Number.pipe(Schema.between(0.01, 1)), { default: () => 0.2 }),
  leaseRetryMs: Schema.optionalWith(PositiveInt, { default: () => 250 }),
  maxLoadWaitMs: Schema.optionalWith(PositiveInt, { default: () => 300_000 }),
  modelAgingMs: Schema.optionalWith(Schema.NonNegativeInt, { default: () => 30_000 })
}) {}
