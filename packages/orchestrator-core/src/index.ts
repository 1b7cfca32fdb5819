/**
 * @llama-orch/orchestrator-core: admission, queues, placement, dispatch and token streaming in
 * front of llama-orch pools.
 *
 * @since 0.1.0
 */

/** The `Orchestrator` service tag, its operations and what they answer. */
export { Admission, Orchestrator, type OrchestratorService, TaskSnapshot, TaskState } from "./Orchestrator.js"

/** Error codes, the error envelope and the typed errors of the orchestrator. */
export {
  AdmissionRejected,
  BudgetExceeded,
  ErrorCode,
  ErrorEnvelope,
  InvalidParams,
  ModelNotFound,
  NoReadyPool,
  PoolsUnavailable,
  type SubmitError,
  TaskNotFound
} from "./TaskErrors.js"

/** Task events and their sequenced envelope. */
export { End, Failed, isTerminal, Metrics, SequencedEvent, Started, TaskEvent, Token } from "./TaskEvent.js"

/** Task requests. */
export { ChatMessage, Placement, Priority, TaskRequest } from "./TaskRequest.js"
