/**
 * The handlers of the OpenAI-compatible group of the HTTP API (`/v1/...`): requests become tasks,
 * task events become OpenAI responses and stream chunks.
 *
 * @internal
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ShutdownSignal } from "@llama-orch/daemon-kit"
import {
  type End,
  EngineTransport,
  Failed,
  type Loading,
  Orchestrator,
  type OrchestratorService,
  type TaskRequest
} from "@llama-orch/orchestrator-core"
import { type ModelStatus, PoolManager } from "@llama-orch/pool-core"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { OrchestratorApi } from "../Api.js"
import {
  fromEngineFailure,
  fromModelLoadFailed,
  fromPoolError,
  fromStreamError,
  fromSubmitError,
  modelNotFound,
  shuttingDown
} from "../ApiFailure.js"
import { openAiErrorBody } from "../ErrorResponses.js"
import {
  ChatCompletion,
  ChatCompletionRequest,
  Completion,
  CompletionRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
  Model,
  ModelList,
  shutdownFinishReason
} from "../OpenAiSchemas.js"
import { ServerSettings } from "../ServerSettings.js"
import * as Sse from "../Sse.js"
import { readJson } from "./body.js"
import { finishReason, Gathered, type Kind, richChoice, usageOf } from "./openAiChoices.js"
import { chatTask, completionTask, needsProtocolCheck, unsupportedBy } from "./openAiRequests.js"
import { findModel } from "./poolViews.js"
import { recoverOpenAi } from "./respond.js"

interface Sampling {
  readonly model: string
  readonly stream?: boolean | null | undefined
  readonly stream_options?: { readonly include_usage?: boolean | null | undefined } | null | undefined
}

const readChat = readJson(ChatCompletionRequest)
const readCompletion = readJson(CompletionRequest)
const encodeChat = Schema.encodeSync(ChatCompletion)
const encodeCompletion = Schema.encodeSync(Completion)
const encodeModelList = Schema.encodeSync(ModelList)
const encodeModel = Schema.encodeSync(Model)
const encodeEmbeddings = Schema.encodeSync(EmbeddingsResponse)

/** The last event of a stream whose task failed: the error body a non-streamed answer would have had. */
const errorEvent = (event: Failed) => `data: ${JSON.stringify(openAiErrorBody(fromStreamError(event)))}\n\n`

interface Outcome {
  end: End | undefined
  failure: Failed | undefined
}

/** The handlers of the OpenAI-compatible routes: the same queues as `/v2/tasks`. */
export const OpenAiLive = HttpApiBuilder.group(OrchestratorApi, "openai", (handlers) =>
  Effect.gen(function*() {
    const orchestrator = yield* Orchestrator
    const pools = yield* PoolManager
    const settings = yield* ServerSettings
    const signal = yield* ShutdownSignal.ShutdownSignal

    const run = (kind: Kind, body: Sampling, request: TaskRequest) =>
      Effect.gen(function*() {
        if (yield* signal.isShuttingDown) return yield* Effect.fail(shuttingDown())
        if (needsProtocolCheck(request)) {
          const refused = unsupportedBy(request, yield* pools.list.pipe(Effect.mapError(fromPoolError)))
          if (refused !== undefined) return yield* Effect.fail(refused)
        }
        const admission = yield* orchestrator.submit(request).pipe(Effect.mapError(fromSubmitError))
        const taskId = admission.taskId
        const created = Math.floor((yield* Clock.currentTimeMillis) / 1000)
        const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${taskId}`
        const object = kind === "chat" ? "chat.completion.chunk" : "text_completion"
        const cancel = orchestrator.cancel(taskId).pipe(Effect.ignore)
        const fingerprint = (end: End) =>
          end.systemFingerprint === undefined ? {} : { system_fingerprint: end.systemFingerprint }
        const chunk = (choices: ReadonlyArray<unknown>, extra?: object) =>
          `data: ${JSON.stringify({ id, object, created, model: body.model, ...extra, choices })}\n\n`
        // the choice of a chunk that only ends it
        const endChoice = (index: number, finish: string) =>
          kind === "chat"
            ? { index, delta: {}, logprobs: null, finish_reason: finish }
            : { index, text: "", logprobs: null, finish_reason: finish }
        const finishChunk = (end: End) => chunk([endChoice(0, finishReason(end, request.maxTokens))], fingerprint(end))
        const includeUsage = body.stream_options?.include_usage === true

        // the hot path: a token chunk is a precomputed prefix plus the token, not a JSON.stringify of the object
        const head = `data: {"id":${JSON.stringify(id)},"object":"${object}","created":${created},"model":${
          JSON.stringify(body.model)
        },"choices":[{"index":0,`
        const tokenChunk = (t: string, first: boolean) =>
          kind === "chat"
            ? `${head}"delta":{${first ? "\"role\":\"assistant\"," : ""}"content":${
              JSON.stringify(t)
            }},"logprobs":null,"finish_reason":null}]}\n\n`
            : `${head}"text":${JSON.stringify(t)},"logprobs":null,"finish_reason":null}]}\n\n`

        if (body.stream === true) {
          // choices that have had their first delta (which carries the role)
          const opened = new Set<number>()
          // the last chunk of a stream cut by shutdown: every choice under way ends, saying why
          const shutdownChunk = () =>
            chunk(
              (opened.size === 0 ? [0] : [...opened].sort((a, b) => a - b)).map((index) =>
                endChoice(index, shutdownFinishReason)
              )
            )
          return yield* Sse.push(
            (emit) =>
              Effect.gen(function*() {
                let finished = false
                // a client that goes away cancels its task (so does shutdown)
                yield* Effect.scopeWith((scope) =>
                  Scope.addFinalizer(scope, Effect.suspend(() => finished ? Effect.void : cancel))
                )
                const ended = yield* orchestrator.subscribe(taskId, ({ event }) => {
                  switch (event._tag) {
                    case "loading":
                      // a comment: OpenAI clients skip it, a person watching the stream sees the load move
                      return emit.frame(`: ${loadingComment(event)}\n\n`)
                    case "token": {
                      const choice = event.c ?? 0
                      const first = !opened.has(choice)
                      if (first) opened.add(choice)
                      if (event.x === undefined && choice === 0) return emit.frame(tokenChunk(event.t, first))
                      return emit.frame(chunk([richChoice(kind, event, first)]))
                    }
                    case "end":
                      finished = true
                      emit.frame(finishChunk(event))
                      if (includeUsage) {
                        emit.frame(
                          chunk([], { ...fingerprint(event), usage: usageOf(event.tokensIn, event.tokensOut) })
                        )
                      }
                      emit.frame("data: [DONE]\n\n")
                      return emit.end()
                    case "failed":
                      finished = true
                      emit.frame(errorEvent(event))
                      return emit.end()
                  }
                })
                if (ended) emit.end()
              }).pipe(Effect.catchAll(() => Effect.sync(emit.end))),
            {
              heartbeatMs: settings.heartbeatMs,
              // a stream cut by shutdown says so in its finish_reason before [DONE]
              final: () => shutdownChunk() + "data: [DONE]\n\n",
              // only data events and comments: a lone `retry:` event broke the Python openai client
              opening: ": ok\n\n",
              maxBufferedBytes: settings.sseMaxBufferedBytes
            }
          )
        }

        // pushed events gathered in place: a stream fold would cost a stream stage per token
        const gathered = new Gathered()
        const outcome = yield* Effect.scoped(Effect.gen(function*() {
          const out: Outcome = { end: undefined, failure: undefined }
          const finished = yield* Deferred.make<void>()
          const ended = yield* orchestrator.subscribe(taskId, ({ event }) => {
            switch (event._tag) {
              case "token":
                if (event.x === undefined && event.c === undefined) gathered.addText(event.t)
                else gathered.add(event)
                return
              case "end":
                out.end = event
                return Deferred.unsafeDone(finished, Exit.void)
              case "failed":
                out.failure = event
                return Deferred.unsafeDone(finished, Exit.void)
            }
          })
          if (!ended) yield* Deferred.await(finished)
          return out
        })).pipe(
          Effect.catchAll(() => Effect.fail(fromStreamError(notRetained))),
          Effect.onInterrupt(() => cancel)
        )
        if (outcome.failure !== undefined) return yield* Effect.fail(fromStreamError(outcome.failure))
        const end = outcome.end
        if (end === undefined) return yield* Effect.fail(fromStreamError(notRetained))
        const answer = {
          id,
          created,
          model: body.model,
          ...fingerprint(end),
          usage: usageOf(end.tokensIn, end.tokensOut)
        }
        const finish = finishReason(end, request.maxTokens)
        return HttpServerResponse.unsafeJson(
          kind === "chat"
            ? encodeChat({ ...answer, object: "chat.completion", choices: gathered.chat(finish) })
            : encodeCompletion({ ...answer, object: "text_completion", choices: gathered.text(finish) })
        )
      })

    return handlers
      .handleRaw("models", () =>
        Effect.gen(function*() {
          const models = yield* pools.models.pipe(Effect.mapError(fromPoolError))
          const created = Math.floor((yield* Clock.currentTimeMillis) / 1000)
          const sorted = [...models].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
          return HttpServerResponse.unsafeJson(
            encodeModelList({ object: "list", data: sorted.map((model) => modelEntry(model, created)) })
          )
        }).pipe(recoverOpenAi))
      .handleRaw("model", ({ path }) =>
        Effect.gen(function*() {
          const model = findModel(yield* pools.models.pipe(Effect.mapError(fromPoolError)), path.id)
          if (model === undefined) return yield* Effect.fail(modelNotFound(path.id))
          const created = Math.floor((yield* Clock.currentTimeMillis) / 1000)
          return HttpServerResponse.unsafeJson(encodeModel(modelEntry(model, created)))
        }).pipe(recoverOpenAi))
      .handleRaw("chat", () =>
        Effect.gen(function*() {
          const body = yield* readChat
          const request = yield* chatTask(body, settings.openAiDefaultMaxTokens)
          return yield* run("chat", body, request)
        }).pipe(recoverOpenAi))
      .handleRaw("completions", () =>
        Effect.gen(function*() {
          const body = yield* readCompletion
          const request = yield* completionTask(body, settings.openAiDefaultMaxTokens)
          return yield* run("text", body, request)
        }).pipe(recoverOpenAi))
      .handleRaw("embeddings", () =>
        Effect.gen(function*() {
          if (yield* signal.isShuttingDown) return yield* Effect.fail(shuttingDown())
          const body = yield* readEmbeddings
          return yield* forwardEmbeddings(orchestrator, body)
        }).pipe(recoverOpenAi))
  }))

const readEmbeddings = readJson(EmbeddingsRequest)
const decodeEmbeddings = Schema.decodeUnknownEither(EmbeddingsResponse)

/** Sends an embeddings request to an engine serving its model and relays the checked answer. */
const forwardEmbeddings = (orchestrator: OrchestratorService, body: typeof EmbeddingsRequest.Type) =>
  orchestrator.embeddings(body.model, body).pipe(
    Effect.mapError((e) =>
      e._tag === "EngineFailure"
        ? fromEngineFailure(e)
        : e._tag === "ModelLoadFailed"
        ? fromModelLoadFailed(e)
        : fromSubmitError(e)
    ),
    Effect.flatMap((json) => {
      const decoded = decodeEmbeddings(json)
      return Either.isRight(decoded)
        ? Effect.succeed(HttpServerResponse.unsafeJson(encodeEmbeddings({ ...decoded.right, model: body.model })))
        : Effect.fail(fromEngineFailure(
          new EngineTransport.EngineFailure({ url: "/v1/embeddings", reason: "the engine's answer is not embeddings" })
        ))
    })
  )

/** A load the task waits for, in words: `loading pool p: 12.3 s, about 30 s left`. */
const loadingComment = (event: Loading): string =>
  `loading ${event.poolId}: ${(event.elapsedMs / 1000).toFixed(1)} s` +
  (event.etaMs === undefined ? "" : `, about ${Math.ceil(event.etaMs / 1000)} s left`)

/** One `GET /v1/models` entry. */
const modelEntry = (model: ModelStatus, created: number): typeof Model.Type => ({
  id: model.id,
  object: "model",
  created,
  owned_by: "llama-orch",
  state: model.state,
  ...(model.aliases.length === 0 ? {} : { aliases: model.aliases })
})

const notRetained = Failed.make({
  code: "INTERNAL",
  message: "the task's events are no longer retained",
  retriable: true
})
