/**
 * @llama-orch/orchestrator-core: admission, queues, placement, dispatch and token streaming in
 * front of llama-orch pools.
 *
 * @module @llama-orch/orchestrator-core
 * @since 0.1.0
 */

/** The `Orchestrator` service tag (with `Orchestrator.layer(options)`), its operations and what they answer. */
export {
  Admission,
  Orchestrator,
  type OrchestratorService,
  type TaskActivity,
  TaskSnapshot,
  TaskState
} from "./Orchestrator.js"

/** Settings of `Orchestrator.layer`, with their defaults. */
export { OrchestratorOptions } from "./OrchestratorOptions.js"

/** The orchestrator's metrics (`orchestratord_tasks_enqueued_total`, `orchestratord_queue_depth`, ...) as Effect `Metric`s. */
export * as OrchestratorMetrics from "./OrchestratorMetrics.js"

/** Admission checks: model known, context fits, pin valid, some pool Ready or starting. */
export * as AdmissionCheck from "./AdmissionCheck.js"

/** The bounded two-priority task queue and its full-queue policies. */
export { type Entry, type OfferResult, QueuePolicy, TaskQueue } from "./TaskQueue.js"

/** Placement: which pool a task goes to (pin, session affinity, then least loaded). */
export * as PlacementPolicy from "./PlacementPolicy.js"

/** Engine adapters: stream a task from a llama.cpp or OpenAI-compatible engine. */
export * as EngineAdapter from "./EngineAdapter.js"

/** How engine requests travel: the `EngineTransport` service, over the `HttpClient` by default. */
export * as EngineTransport from "./EngineTransport.js"

/** Embeddings requests sent to an engine serving the model, on a leased slot. */
export * as Embeddings from "./Embeddings.js"

/** The engine transport over undici (Node): the fast path for daemons on Node. */
export * as NodeEngineTransport from "./NodeEngineTransport.js"

/** On-demand loads: which to ask for, what each keeps, and the aging cap that bounds swaps. */
export * as ModelGrouping from "./ModelGrouping.js"

/** Predicted start times, on-time probabilities and retry-after suggestions. */
export * as Predictions from "./Predictions.js"

/** The session store: TTL, turn limit, affinity and token budget. */
export * as Sessions from "./Sessions.js"

/** Error codes, the error envelope and the typed errors of the orchestrator. */
export {
  AdmissionRejected,
  BudgetExceeded,
  ErrorCode,
  ErrorEnvelope,
  InvalidParams,
  ModelLoadFailed,
  ModelNotFound,
  NoReadyPool,
  PoolsUnavailable,
  type SubmitError,
  TaskNotFound
} from "./TaskErrors.js"

/** Task events and their sequenced envelope. */
export {
  End,
  Failed,
  isTerminal,
  Loading,
  Metrics,
  Requeued,
  SequencedEvent,
  Started,
  TaskEvent,
  Token
} from "./TaskEvent.js"

/** Task requests. */
export { ChatMessage, EngineParams, Placement, Priority, reservedEngineParams, TaskRequest } from "./TaskRequest.js"
