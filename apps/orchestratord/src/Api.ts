/**
 * The HTTP API of orchestratord as an `HttpApi`: every route of the data plane, control plane, meta
 * and OpenAI-compatible surfaces, with the shared schemas of orchestrator-core, so `/openapi.json`
 * is generated from the same schemas the handlers encode with. Every status a route answers is
 * declared with its body: the `/v2` and meta routes answer errors in `ErrorEnvelope`, the `/v1`
 * routes in `OpenAiError`; 401 on the routes the token guards, 403 (request guard) and 500 on
 * every route, 415 on every POST. Streaming routes answer `text/event-stream`, with their event
 * types and the schema of each under `x-sse-events`.
 *
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { ErrorEnvelope, TaskRequest, TaskSnapshot } from "@llama-orch/orchestrator-core"
import { ConfigReload } from "@llama-orch/pool-daemon"
import * as Schema from "effect/Schema"
import { defaults } from "./Config.js"
import {
  activityEvents,
  chatEvents,
  completionEvents,
  eventSchemas,
  poolEvents,
  type StreamEvent,
  taskEvents
} from "./EventSchemas.js"
import { eventStream, finishDocument } from "./internal/openApiDocument.js"
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
  ModelSummary,
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
const status = (code: number) => ({ status: code })

// the wire shapes of the error bodies, named: a class with renamed keys is otherwise inlined everywhere
const ErrorBody = Schema.encodedSchema(ErrorEnvelope).annotations({
  identifier: "ErrorEnvelope",
  description: "The error envelope of the /v2 and meta routes."
})
const PoolOperationFailedBody = Schema.encodedSchema(PoolOperationFailed).annotations({
  identifier: "PoolOperationFailed",
  description: "The error envelope of a failed preload or reload: rolled_back, and the tail of the engine's stderr."
})

/**
 * The failures of a generation route (`/v1/chat/completions`, `/v1/completions`): a bad request,
 * admission, and when the answer is not streamed, how the task ended (409 cancelled, 502 engine
 * failure, 504 decode timeout).
 */
const generation = <Name extends string, Payload>(
  endpoint: HttpApiEndpoint.HttpApiEndpoint<Name, "POST", never, never, Payload>
) =>
  endpoint
    .addError(OpenAiError, status(400))
    .addError(OpenAiError, status(404))
    .addError(OpenAiError, status(409))
    .addError(OpenAiError, status(413))
    .addError(OpenAiError, status(415))
    .addError(OpenAiError, status(429))
    .addError(OpenAiError, status(502))
    .addError(OpenAiError, status(503))
    .addError(OpenAiError, status(504))

/** A `/v2` stream of events that starts with a snapshot: the stream query, its events, 400 for a bad query. */
const stream = <Name extends string>(
  endpoint: HttpApiEndpoint.HttpApiEndpoint<Name, "GET">,
  events: ReadonlyArray<StreamEvent>,
  summary: string,
  description: string,
  what: string
) =>
  endpoint
    .setUrlParams(StreamParams)
    .addSuccess(EventStream)
    .addError(ErrorBody, status(400))
    .annotate(OpenApi.Summary, summary)
    .annotate(OpenApi.Description, description)
    .annotate(OpenApi.Transform, eventStream(events, what))

/**
 * Tasks: submit, stream, cancel, inspect.
 *
 * @since 0.1.0
 */
export class TasksGroup extends HttpApiGroup.make("tasks")
  .add(
    HttpApiEndpoint.post("submit", "/v2/tasks")
      .setPayload(TaskRequest)
      .addSuccess(TaskAccepted, status(202))
      .addError(ErrorBody, status(400))
      .addError(ErrorBody, status(404))
      .addError(ErrorBody, status(413))
      .addError(ErrorBody, status(415))
      .addError(ErrorBody, status(429))
      .addError(ErrorBody, status(503))
      .annotate(OpenApi.Summary, "Admit a task into its model's queue")
      .annotate(
        OpenApi.Description,
        "404 MODEL_NOT_FOUND when no pool serves model_ref; 429 ADMISSION_REJECT or BUDGET_EXCEEDED; 503 " +
          "POOL_UNREADY (retriable, or not when the pool's restart circuit is open) or POOL_UNAVAILABLE (the pool " +
          "manager is unreachable, or orchestratord is shutting down)."
      )
  )
  .add(
    HttpApiEndpoint.get("events", "/v2/tasks/:id/events")
      .setPath(byId)
      .setUrlParams(StreamParams)
      .addSuccess(EventStream)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(ErrorBody, status(400))
      .addError(ErrorBody, status(404))
      .annotate(OpenApi.Summary, "Stream a task's events")
      .annotate(
        OpenApi.Description,
        "Server-sent events: started, metrics, token, then end or failed. Every event has an id; reconnect with " +
          "Last-Event-ID to resume. A task that has ended answers 204 once nothing is left to send (Last-Event-ID " +
          "at or past its last event), which tells an EventSource to stop reconnecting; without Last-Event-ID it " +
          "replays the retained events."
      )
      .annotate(OpenApi.Transform, eventStream(taskEvents, "The task's events, from after Last-Event-ID."))
  )
  .add(
    HttpApiEndpoint.post("cancel", "/v2/tasks/:id/cancel")
      .setPath(byId)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(ErrorBody, status(404))
      .addError(ErrorBody, status(415))
      .annotate(OpenApi.Summary, "Cancel a queued or running task (idempotent)")
  )
  .add(
    HttpApiEndpoint.get("get", "/v2/tasks/:id")
      .setPath(byId)
      .addSuccess(TaskSnapshot)
      .addError(ErrorBody, status(404))
      .annotate(OpenApi.Summary, "A task's state and counts")
  )
  .add(
    stream(
      HttpApiEndpoint.get("activity", "/v2/activity/events"),
      activityEvents,
      "Stream every task's changes and the queue depths",
      "Server-sent events: snapshot first (the retained tasks, newest first, and the queue depth of each model), " +
        "then task for every change of a task: admitted, moved in its queue, dispatched, placed again, its first " +
        "token (first_token_at_ms), ended. Not one event per token: follow /v2/tasks/{id}/events for those. " +
        "A reconnect starts again with a snapshot.",
      "A snapshot of the tasks and queues, then each change."
    )
  )
  .addError(ErrorBody, status(401))
  .addError(ErrorBody, status(403))
  .addError(ErrorBody, status(500))
{}

/**
 * Pools: the control plane.
 *
 * @since 0.1.0
 */
export class PoolsGroup extends HttpApiGroup.make("pools")
  .add(
    HttpApiEndpoint.get("list", "/v2/pools")
      .addSuccess(PoolList)
      .addError(ErrorBody, status(503))
      .annotate(OpenApi.Summary, "Every pool: state, engine, model, counters")
  )
  .add(
    stream(
      HttpApiEndpoint.get("events", "/v2/pools/events"),
      poolEvents,
      "Stream the pools' states",
      "Server-sent events: snapshot first, then status for every change; failed (retriable) when the pool " +
        "manager cannot be reached.",
      "A snapshot of every pool, then each change."
    )
  )
  .add(
    HttpApiEndpoint.get("health", "/v2/pools/:id/health")
      .setPath(byId)
      .addSuccess(PoolHealth)
      .addError(ErrorBody, status(404))
      .addError(ErrorBody, status(503))
      .annotate(OpenApi.Summary, "One pool's liveness, readiness and counters")
  )
  .add(
    HttpApiEndpoint.post("preload", "/v2/pools/:id/preload")
      .setPath(byId)
      .addSuccess(PreloadResult)
      .addError(ErrorBody, status(404))
      .addError(ErrorBody, status(415))
      .addError(PoolOperationFailedBody, status(502))
      .addError(ErrorBody, status(503))
      .annotate(OpenApi.Summary, "Start a pool's engine and wait until it is Ready")
      .annotate(OpenApi.Description, "502 when the engine fails to start, with the tail of its stderr.")
  )
  .add(
    HttpApiEndpoint.post("drain", "/v2/pools/:id/drain")
      .setPath(byId)
      .setPayload(DrainRequest)
      .addSuccess(DrainAccepted, status(202))
      .addError(ErrorBody, status(400))
      .addError(ErrorBody, status(404))
      .addError(ErrorBody, status(413))
      .addError(ErrorBody, status(415))
      .addError(ErrorBody, status(503))
      .annotate(OpenApi.Summary, "Stop a pool taking leases; it stops once its leases end or the deadline passes")
  )
  .add(
    HttpApiEndpoint.post("reload", "/v2/pools/:id/reload")
      .setPath(byId)
      .setPayload(ReloadRequest)
      .addSuccess(ReloadResult)
      .addError(ErrorBody, status(400))
      .addError(ErrorBody, status(404))
      .addError(ErrorBody, status(413))
      .addError(ErrorBody, status(415))
      .addError(PoolOperationFailedBody, status(502))
      .addError(ErrorBody, status(503))
      .annotate(OpenApi.Summary, "Switch a pool to another model")
      .annotate(OpenApi.Description, "Atomic: on failure the pool serves the old model again (rolled_back: true).")
  )
  .addError(ErrorBody, status(401))
  .addError(ErrorBody, status(403))
  .addError(ErrorBody, status(500))
{}

/**
 * Models: load and unload a catalogued model by its public id or an alias (the control plane).
 *
 * @since 0.1.0
 */
export class ModelsGroup extends HttpApiGroup.make("models")
  .add(
    HttpApiEndpoint.post("load", "/v2/models/:id/load")
      .setPath(byId)
      .addSuccess(ModelSummary)
      .addError(ErrorBody, status(404))
      .addError(ErrorBody, status(415))
      .addError(PoolOperationFailedBody, status(502))
      .addError(ErrorBody, status(503))
      .annotate(OpenApi.Summary, "Load a model and wait until a pool serving it is Ready")
      .annotate(
        OpenApi.Description,
        "Answers the model once loaded (at once when it already is). 404 MODEL_NOT_FOUND when the catalog has no " +
          "such model; 502 MODEL_LOAD_FAILED when its engine fails to start (with the tail of its stderr); 503 MODEL_LOAD_FAILED (retriable) when " +
          "it does not fit in device memory beside the pools in use now."
      )
  )
  .add(
    HttpApiEndpoint.post("unload", "/v2/models/:id/unload")
      .setPath(byId)
      .addSuccess(ModelSummary)
      .addError(ErrorBody, status(404))
      .addError(ErrorBody, status(415))
      .addError(ErrorBody, status(503))
      .annotate(OpenApi.Summary, "Drain and stop the pools serving a model; it stays in the catalog")
  )
  .addError(ErrorBody, status(401))
  .addError(ErrorBody, status(403))
  .addError(ErrorBody, status(500))
{}

/**
 * Admin: reloading the configuration file (as `SIGHUP` does), behind the token.
 *
 * @since 0.1.0
 */
export class AdminGroup extends HttpApiGroup.make("admin")
  .add(
    HttpApiEndpoint.post("reloadConfig", "/v2/admin/reload-config")
      .addSuccess(ConfigReload.ReloadReport)
      .addError(ConfigReload.ReloadRefused, status(422))
      .addError(ErrorBody, status(415))
      .annotate(OpenApi.Summary, "Reload the configuration file, restarting only the pools it changed")
      .annotate(
        OpenApi.Description,
        "Reads and validates the file (422 CONFIG_INVALID with its issues: nothing changed), then applies a plan, " +
          "one pool at a time: unchanged pools keep serving; a pool whose model alone changed is reloaded " +
          "(reload.strategy: replace or surge); a changed pool is drained and started again; a removed pool is " +
          "drained and removed; an added pool is registered (and preloaded). Settings that need a restart are " +
          "listed in plan.restart_required and not applied. result is failed when a step failed."
      )
  )
  .addError(ErrorBody, status(401))
  .addError(ErrorBody, status(403))
  .addError(ErrorBody, status(500))
{}

/**
 * Meta: capabilities, liveness, readiness (`/metrics` is a plain route beside the API). `/health`
 * and `/ready` never ask for the token.
 *
 * @since 0.1.0
 */
export class MetaGroup extends HttpApiGroup.make("meta")
  .add(
    HttpApiEndpoint.get("capabilities", "/v2/meta/capabilities")
      .addSuccess(Capabilities)
      .addError(ErrorBody, status(401))
      .addError(ErrorBody, status(503))
      .annotate(OpenApi.Summary, "The API version, what each pool offers, and every model with its state")
  )
  .add(
    HttpApiEndpoint.get("health", "/health")
      .addSuccess(Liveness)
      .annotate(OpenApi.Summary, "Liveness: the process answers")
  )
  .add(
    HttpApiEndpoint.get("ready", "/ready")
      .addSuccess(Liveness)
      .addError(Liveness, status(503))
      .annotate(OpenApi.Summary, "Readiness: at least one pool is Ready (503 otherwise)")
  )
  .addError(ErrorBody, status(403))
  .addError(ErrorBody, status(500))
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
      .addError(OpenAiError, status(503))
      .annotate(OpenApi.Summary, "List every model the pools serve or can load, with its state")
  )
  .add(
    HttpApiEndpoint.get("model", "/v1/models/:id")
      .setPath(byId)
      .addSuccess(Model)
      .addError(OpenAiError, status(404))
      .addError(OpenAiError, status(503))
      .annotate(OpenApi.Summary, "One model the pools serve or can load (by id or alias)")
  )
  .add(
    generation(HttpApiEndpoint.post("chat", "/v1/chat/completions").setPayload(ChatCompletionRequest))
      .addSuccess(ChatCompletion)
      .annotate(OpenApi.Summary, "Chat completion, whole or streamed")
      .annotate(
        OpenApi.Description,
        `With stream: true the answer is text/event-stream of chat.completion.chunk, ending with data: [DONE]. ${streamCutByShutdown}`
      )
      .annotate(OpenApi.Transform, eventStream(chatEvents, "The completion, or with stream: true its chunks."))
  )
  .add(
    generation(HttpApiEndpoint.post("completions", "/v1/completions").setPayload(CompletionRequest))
      .addSuccess(Completion)
      .annotate(OpenApi.Summary, "Text completion, whole or streamed")
      .annotate(
        OpenApi.Description,
        `With stream: true the answer is text/event-stream of text_completion chunks, ending with data: [DONE]. ${streamCutByShutdown}`
      )
      .annotate(OpenApi.Transform, eventStream(completionEvents, "The completion, or with stream: true its chunks."))
  )
  .add(
    HttpApiEndpoint.post("embeddings", "/v1/embeddings")
      .setPayload(EmbeddingsRequest)
      .addSuccess(EmbeddingsResponse)
      .addError(OpenAiError, status(400))
      .addError(OpenAiError, status(404))
      .addError(OpenAiError, status(413))
      .addError(OpenAiError, status(415))
      .addError(OpenAiError, status(429))
      .addError(OpenAiError, status(502))
      .addError(OpenAiError, status(503))
      .annotate(OpenApi.Summary, "Embeddings from an engine serving the model (on one of its slots)")
  )
  .addError(OpenAiError, status(401))
  .addError(OpenAiError, status(403))
  .addError(OpenAiError, status(500))
{}

/**
 * The whole API.
 *
 * @since 0.1.0
 */
export class OrchestratorApi extends HttpApi.make("orchestratord")
  .add(TasksGroup)
  .add(PoolsGroup)
  .add(ModelsGroup)
  .add(AdminGroup)
  .add(MetaGroup)
  .add(OpenAiGroup)
  .annotate(OpenApi.Title, "llama-orch orchestratord")
  .annotate(OpenApi.Version, apiVersion)
  .annotate(OpenApi.Servers, [
    { url: "/", description: "The daemon serving this document" },
    {
      url: "http://{host}:{port}",
      description: "An orchestratord at host:port",
      variables: { host: { default: defaults.host }, port: { default: String(defaults.port) } }
    }
  ])
  .annotate(HttpApi.AdditionalSchemas, [ErrorBody, PoolOperationFailedBody, OpenAiError, ...eventSchemas])
  .annotate(OpenApi.Transform, finishDocument)
{}
