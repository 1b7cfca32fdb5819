/**
 * The HTTP API of orchestratord as an `HttpApi`: every route of the data plane, control plane, meta
 * and OpenAI-compatible surfaces, with the shared schemas of orchestrator-core, so `/openapi.json`
 * is generated from the same schemas the handlers encode with. Streaming routes are declared with a
 * `text/event-stream` body.
 *
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { ErrorEnvelope, TaskRequest, TaskSnapshot } from "@llama-orch/orchestrator-core"
import * as Schema from "effect/Schema"
import {
  ChatCompletion,
  ChatCompletionRequest,
  Completion,
  CompletionRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
  Model,
  ModelList,
  OpenAiError,
  shutdownFinishReason
} from "./OpenAiSchemas.js"
import { apiVersion } from "./ServerSettings.js"
import { StreamParams } from "./Sse.js"
import {
  Capabilities,
  DrainAccepted,
  DrainRequest,
  Liveness,
  PoolHealth,
  PoolList,
  PoolOperationFailed,
  PreloadResult,
  ReloadRequest,
  ReloadResult,
  TaskAccepted
} from "./WireSchemas.js"

const EventStream = HttpApiSchema.Text({ contentType: "text/event-stream" })
const streamCutByShutdown = "A stream cut because orchestratord shuts down ends with a chunk whose finish_reason is " +
  `"${shutdownFinishReason}", then data: [DONE].`
const byId = Schema.Struct({ id: Schema.String })

/**
 * Tasks: submit, stream, cancel, inspect.
 *
 * @since 0.1.0
 */
export class TasksGroup extends HttpApiGroup.make("tasks")
  .add(
    HttpApiEndpoint.post("submit", "/v2/tasks")
      .setPayload(TaskRequest)
      .addSuccess(TaskAccepted, { status: 202 })
      .addError(ErrorEnvelope, { status: 400 })
      .addError(PoolOperationFailed, { status: 429 })
      .addError(PoolOperationFailed, { status: 503 })
      .annotate(OpenApi.Summary, "Admit a task into its model's queue")
  )
  .add(
    HttpApiEndpoint.get("events", "/v2/tasks/:id/events")
      .setPath(byId)
      .setUrlParams(StreamParams)
      .addSuccess(EventStream)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(ErrorEnvelope, { status: 404 })
      .annotate(
        OpenApi.Description,
        "Server-sent events: started, metrics, token, then end or failed. Every event has an id; reconnect with " +
          "Last-Event-ID to resume. A task that has ended answers 204 once nothing is left to send (Last-Event-ID " +
          "at or past its last event), which tells an EventSource to stop reconnecting; without Last-Event-ID it " +
          "replays the retained events."
      )
  )
  .add(
    HttpApiEndpoint.post("cancel", "/v2/tasks/:id/cancel")
      .setPath(byId)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(ErrorEnvelope, { status: 404 })
      .annotate(OpenApi.Summary, "Cancel a queued or running task (idempotent)")
  )
  .add(
    HttpApiEndpoint.get("get", "/v2/tasks/:id")
      .setPath(byId)
      .addSuccess(TaskSnapshot)
      .addError(ErrorEnvelope, { status: 404 })
  )
{}

/**
 * Pools: the control plane.
 *
 * @since 0.1.0
 */
export class PoolsGroup extends HttpApiGroup.make("pools")
  .add(HttpApiEndpoint.get("list", "/v2/pools").addSuccess(PoolList).addError(ErrorEnvelope, { status: 503 }))
  .add(
    HttpApiEndpoint.get("events", "/v2/pools/events")
      .setUrlParams(StreamParams)
      .addSuccess(EventStream)
      .annotate(
        OpenApi.Description,
        "Server-sent events: snapshot first, then status for every change; failed (retriable) when the pool " +
          "manager cannot be reached."
      )
  )
  .add(
    HttpApiEndpoint.get("health", "/v2/pools/:id/health")
      .setPath(byId)
      .addSuccess(PoolHealth)
      .addError(ErrorEnvelope, { status: 404 })
  )
  .add(
    HttpApiEndpoint.post("preload", "/v2/pools/:id/preload")
      .setPath(byId)
      .addSuccess(PreloadResult)
      .addError(PoolOperationFailed, { status: 502 })
  )
  .add(
    HttpApiEndpoint.post("drain", "/v2/pools/:id/drain")
      .setPath(byId)
      .setPayload(DrainRequest)
      .addSuccess(DrainAccepted, { status: 202 })
      .addError(ErrorEnvelope, { status: 404 })
  )
  .add(
    HttpApiEndpoint.post("reload", "/v2/pools/:id/reload")
      .setPath(byId)
      .setPayload(ReloadRequest)
      .addSuccess(ReloadResult)
      .addError(PoolOperationFailed, { status: 502 })
      .annotate(OpenApi.Description, "Atomic: on failure the pool serves the old model again (rolled_back: true).")
  )
{}

/**
 * Meta: capabilities, liveness, readiness (`/metrics` is a plain route beside the API).
 *
 * @since 0.1.0
 */
export class MetaGroup extends HttpApiGroup.make("meta")
  .add(HttpApiEndpoint.get("capabilities", "/v2/meta/capabilities").addSuccess(Capabilities))
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Liveness))
  .add(HttpApiEndpoint.get("ready", "/ready").addSuccess(Liveness).addError(Liveness, { status: 503 }))
{}

/**
 * The OpenAI-compatible surface (same queues as `/v2/tasks`).
 *
 * @since 0.1.0
 */
export class OpenAiGroup extends HttpApiGroup.make("openai")
  .add(
    HttpApiEndpoint.get("models", "/v1/models")
      .addSuccess(ModelList)
      .annotate(OpenApi.Summary, "List the models the pools serve")
  )
  .add(
    HttpApiEndpoint.get("model", "/v1/models/:id")
      .setPath(byId)
      .addSuccess(Model)
      .addError(OpenAiError, { status: 404 })
      .annotate(OpenApi.Summary, "One model the pools serve")
  )
  .add(
    HttpApiEndpoint.post("chat", "/v1/chat/completions")
      .setPayload(ChatCompletionRequest)
      .addSuccess(ChatCompletion)
      .addError(OpenAiError, { status: 400 })
      .annotate(
        OpenApi.Description,
        "With stream: true the answer is text/event-stream of chat.completion.chunk, ending with data: [DONE]. " +
          streamCutByShutdown
      )
  )
  .add(
    HttpApiEndpoint.post("completions", "/v1/completions")
      .setPayload(CompletionRequest)
      .addSuccess(Completion)
      .addError(OpenAiError, { status: 400 })
      .annotate(
        OpenApi.Description,
        "With stream: true the answer is text/event-stream of text_completion chunks, ending with data: [DONE]. " +
          streamCutByShutdown
      )
  )
  .add(
    HttpApiEndpoint.post("embeddings", "/v1/embeddings")
      .setPayload(EmbeddingsRequest)
      .addSuccess(EmbeddingsResponse)
      .addError(OpenAiError, { status: 400 })
      .annotate(OpenApi.Summary, "Embeddings from an engine serving the model (on one of its slots)")
  )
{}

/**
 * The whole API.
 *
 * @since 0.1.0
 */
export class OrchestratorApi extends HttpApi.make("orchestratord")
  .add(TasksGroup)
  .add(PoolsGroup)
  .add(MetaGroup)
  .add(OpenAiGroup)
  .annotate(OpenApi.Title, "llama-orch orchestratord")
  .annotate(OpenApi.Version, apiVersion)
{}
