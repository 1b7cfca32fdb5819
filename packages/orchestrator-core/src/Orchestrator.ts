/**
 * The `Orchestrator` service: admission, queueing, placement, dispatch and token streaming in front
 * of a `PoolManager`.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type { PoolManager } from "@llama-orch/pool-core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { EmbeddingsError } from "./Embeddings.js"
import { make } from "./internal/orchestrator.js"
import { OrchestratorOptions } from "./OrchestratorOptions.js"
import type { SubmitError, TaskNotFound } from "./TaskErrors.js"
import type { SequencedEvent } from "./TaskEvent.js"
import type { TaskRequest } from "./TaskRequest.js"
import type { Admission, TaskSnapshot } from "./TaskSnapshot.js"

/**
 * The retained tasks, newest first, and the queue depths per model (what `watchTasks` answers).
 *
 * @category models
 * @since 0.1.0
 */
export interface TaskActivity {
  readonly tasks: ReadonlyArray<TaskSnapshot>
  readonly queueDepths: ReadonlyMap<string, number>
}

export {
  /** What `submit` answers. */
  Admission,
  /** A task's state and counters. */
  TaskSnapshot,
  /** Where a task is in its life. */
  TaskState
} from "./TaskSnapshot.js"

/**
 * The operations of the orchestrator.
 *
 * @category models
 * @since 0.1.0
 */
export interface OrchestratorService {
  /** Admits a task into its model's queue, or fails with a typed reason. */
  readonly submit: (request: TaskRequest) => Effect.Effect<Admission, SubmitError>
  /**
   * The task's events from the first one after `afterId` (0 or absent: from the start), live until
   * the terminal `end` or `failed`. Retained 60 s after the task ends.
   */
  readonly events: (
    taskId: string,
    options?: { readonly afterId?: number }
  ) => Stream.Stream<SequencedEvent, TaskNotFound>
  /**
   * The push form of `events`, for relays that write each event straight to a socket: calls
   * `onEvent` synchronously with the retained events after `afterId`, then with each new event as
   * the task records it, up to the terminal one. Answers whether the task had already ended (no
   * call will follow). The subscription ends with the scope. `onEvent` must not block or call back
   * into the orchestrator; one that throws is unsubscribed.
   *
   * @since 0.1.0
   */
  readonly subscribe: (
    taskId: string,
    onEvent: (event: SequencedEvent) => void,
    options?: { readonly afterId?: number }
  ) => Effect.Effect<boolean, TaskNotFound, Scope.Scope>
  /** Cancels a queued or running task; idempotent. */
  readonly cancel: (taskId: string) => Effect.Effect<void, TaskNotFound>
  /** The task's state and counters. */
  readonly get: (taskId: string) => Effect.Effect<TaskSnapshot, TaskNotFound>
  /** How many tasks wait per model. */
  readonly queueDepths: Effect.Effect<ReadonlyMap<string, number>>
  /**
   * Follows every task: calls `onChange` synchronously with a task's snapshot and the queue depths
   * each time a task changes (admitted, moved in its queue, dispatched, placed again, its first
   * token, ended; not for the tokens after the first). Answers the retained tasks, newest first,
   * at most `limit` of them (default 50), with the queue depths at that moment; no change falls
   * between them and the first call. The subscription ends with the scope. `onChange` must not
   * block or call back into the orchestrator; one that throws is unsubscribed.
   *
   * @since 0.1.0
   */
  readonly watchTasks: (
    onChange: (task: TaskSnapshot, queueDepths: ReadonlyMap<string, number>) => void,
    options?: { readonly limit?: number }
  ) => Effect.Effect<TaskActivity, never, Scope.Scope>
  /**
   * Sends an OpenAI embeddings request to an engine serving `model`, on one of its pools' slots,
   * and answers the engine's JSON (see `Embeddings.forward`).
   *
   * @since 0.1.0
   */
  readonly embeddings: (
    model: string,
    body: Readonly<Record<string, unknown>>
  ) => Effect.Effect<unknown, EmbeddingsError>
}

/**
 * The orchestrator service tag.
 *
 * @example
 * ```ts
 * import { NodeContext, NodeHttpClient, NodeRuntime } from "@effect/platform-node"
 * import { mockEngineCommand, mockEngineProfileArgs } from "@llama-orch/mock-engine"
 * import { Orchestrator, TaskRequest } from "@llama-orch/orchestrator-core"
 * import { EmbeddedPoolManager, EngineProfile } from "@llama-orch/pool-core"
 * import { Console, Effect, Layer, Schema, Stream } from "effect"
 *
 * const mock = mockEngineCommand()
 * const Pools = EmbeddedPoolManager.layer({
 *   stateDir: "./.state/orchestrator-example",
 *   profiles: [new EngineProfile({ name: "mock", protocol: "llamacpp", command: mock.command, args: [...mock.args, ...mockEngineProfileArgs] })],
 *   pools: [{ id: "tiny-0", engine: "mock", model: "tiny", slots: 2 }]
 * })
 *
 * const program = Effect.gen(function*() {
 *   const orchestrator = yield* Orchestrator
 *   const request = yield* Schema.decodeUnknown(TaskRequest)({ model_ref: "tiny", prompt: "Once upon a time", max_tokens: 16 })
 *   const { taskId } = yield* orchestrator.submit(request)
 *   yield* Stream.runForEach(orchestrator.events(taskId), ({ event }) => Console.log(event._tag))
 * })
 *
 * program.pipe(
 *   Effect.provide(Orchestrator.layer().pipe(Layer.provideMerge(Pools))),
 *   Effect.provide(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)),
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class Orchestrator extends Context.Tag("@llama-orch/orchestrator-core/Orchestrator")<
  Orchestrator,
  OrchestratorService
>() {
  /**
   * The orchestrator over the `PoolManager` in context, sending work to engines with the
   * `EngineTransport` in context when one is provided (`NodeEngineTransport.layer()` on Node),
   * otherwise with the `HttpClient` in context. Closing the layer ends every open task with
   * `failed {code: "CANCELLED", retriable: true}` and releases every lease.
   */
  static layer(
    options: OrchestratorOptions | typeof OrchestratorOptions.Encoded = {}
  ): Layer.Layer<Orchestrator, never, PoolManager | HttpClient.HttpClient> {
    return Layer.scoped(
      Orchestrator,
      Effect.gen(function*() {
        const settings = options instanceof OrchestratorOptions
          ? options
          : yield* Schema.decodeUnknown(OrchestratorOptions)(options).pipe(Effect.orDie)
        return yield* make(settings)
      })
    )
  }
}
