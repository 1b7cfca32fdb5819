import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ShutdownSignal } from "@llama-orch/daemon-kit"
import { Failed, Orchestrator, TaskRequest } from "@llama-orch/orchestrator-core"
import { PoolManager } from "@llama-orch/pool-core"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { OrchestratorApi } from "../Api.js"
import {
  type ApiFailure,
  fromParseError,
  fromPoolError,
  fromStreamError,
  fromSubmitError,
  shuttingDown
} from "../ApiFailure.js"
import { ChatCompletionRequest, CompletionRequest } from "../OpenAiSchemas.js"
import { ServerSettings } from "../ServerSettings.js"
import * as Sse from "../Sse.js"
import { readJson } from "./body.js"
import { recoverOpenAi } from "./respond.js"

type Kind = "chat" | "text"

interface Sampling {
  readonly model: string
  readonly max_tokens?: number | null | undefined
  readonly temperature?: number | null | undefined
  readonly top_p?: number | null | undefined
  readonly seed?: number | null | undefined
  readonly stop?: string | ReadonlyArray<string> | null | undefined
  readonly stream?: boolean | null | undefined
}

const readChat = readJson(ChatCompletionRequest)
const readCompletion = readJson(CompletionRequest)
const decodeTaskRequest = Schema.decodeUnknownEither(TaskRequest)

const toTaskRequest = (
  body: Sampling,
  maxTokens: number,
  input: { readonly prompt: string } | { readonly messages: ReadonlyArray<{ role: string; content: string }> }
): Either.Either<TaskRequest, ApiFailure> =>
  Either.mapLeft(
    decodeTaskRequest({
      model_ref: body.model,
      max_tokens: maxTokens,
      ...input,
      ...(body.temperature == null ? {} : { temperature: body.temperature }),
      ...(body.top_p == null ? {} : { top_p: body.top_p }),
      ...(body.seed == null ? {} : { seed: body.seed }),
      ...(body.stop == null ? {} : { stop: typeof body.stop === "string" ? [body.stop] : body.stop })
    }),
    fromParseError
  )

const errorBody = (event: Failed) => ({
  error: { message: event.message, type: "server_error", code: event.code.toLowerCase(), param: null }
})

interface Outcome {
  text: string
  tokensIn: number
  tokensOut: number
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
        const admission = yield* orchestrator.submit(request).pipe(Effect.mapError(fromSubmitError))
        const taskId = admission.taskId
        const created = Math.floor((yield* Clock.currentTimeMillis) / 1000)
        const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${taskId}`
        const finishReason = (tokensOut: number) => tokensOut >= request.maxTokens ? "length" : "stop"
        const cancel = orchestrator.cancel(taskId).pipe(Effect.ignore)
        const choice = (content: string | undefined, first: boolean, finish: string | null) =>
          kind === "chat"
            ? {
              index: 0,
              delta: content === undefined ? {} : first ? { role: "assistant", content } : { content },
              finish_reason: finish
            }
            : { index: 0, text: content ?? "", finish_reason: finish }
        const chunk = (content: string | undefined, first: boolean, finish: string | null) =>
          `data: ${
            JSON.stringify({
              id,
              object: kind === "chat" ? "chat.completion.chunk" : "text_completion",
              created,
              model: body.model,
              choices: [choice(content, first, finish)]
            })
          }\n\n`

        // the hot path: a token chunk is a precomputed prefix plus the token, not a JSON.stringify of the object
        const head = `data: {"id":${JSON.stringify(id)},"object":"${
          kind === "chat" ? "chat.completion.chunk" : "text_completion"
        }","created":${created},"model":${JSON.stringify(body.model)},"choices":[{"index":0,`
        const tokenChunk = (t: string, first: boolean) =>
          kind === "chat"
            ? `${head}"delta":{${first ? "\"role\":\"assistant\"," : ""}"content":${
              JSON.stringify(t)
            }},"finish_reason":null}]}\n\n`
            : `${head}"text":${JSON.stringify(t)},"finish_reason":null}]}\n\n`

        if (body.stream === true) {
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
                    case "token":
                      return emit.frame(tokenChunk(event.t, event.i === 0))
                    case "end":
                      finished = true
                      emit.frame(chunk(undefined, false, finishReason(event.tokensOut)))
                      emit.frame("data: [DONE]\n\n")
                      return emit.end()
                    case "error":
                      finished = true
                      emit.frame(`data: ${JSON.stringify(errorBody(event))}\n\n`)
                      return emit.end()
                  }
                })
                if (ended) emit.end()
              }).pipe(Effect.catchAll(() => Effect.sync(emit.end))),
            {
              heartbeatMs: settings.heartbeatMs,
              final: "data: [DONE]\n\n",
              // only data events and comments: a lone `retry:` event broke the Python openai client
              opening: ": ok\n\n",
              maxBufferedBytes: settings.sseMaxBufferedBytes
            }
          )
        }

        // pushed events gathered in place: a stream fold would cost a stream stage per token
        const outcome = yield* Effect.scoped(Effect.gen(function*() {
          const gathered: Outcome = { text: "", tokensIn: 0, tokensOut: 0, failure: undefined }
          const finished = yield* Deferred.make<void>()
          const ended = yield* orchestrator.subscribe(taskId, ({ event }) => {
            switch (event._tag) {
              case "token":
                gathered.text += event.t
                return
              case "end":
                gathered.tokensIn = event.tokensIn
                gathered.tokensOut = event.tokensOut
                return Deferred.unsafeDone(finished, Exit.void)
              case "error":
                gathered.failure = event
                return Deferred.unsafeDone(finished, Exit.void)
            }
          })
          if (!ended) yield* Deferred.await(finished)
          return gathered
        })).pipe(
          Effect.catchAll(() => Effect.fail(fromStreamError(notRetained))),
          Effect.onInterrupt(() => cancel)
        )
        if (outcome.failure !== undefined) return yield* Effect.fail(fromStreamError(outcome.failure))
        const usage = {
          prompt_tokens: outcome.tokensIn,
          completion_tokens: outcome.tokensOut,
          total_tokens: outcome.tokensIn + outcome.tokensOut
        }
        const finish = finishReason(outcome.tokensOut)
        return HttpServerResponse.unsafeJson(
          kind === "chat"
            ? {
              id,
              object: "chat.completion",
              created,
              model: body.model,
              choices: [{ index: 0, message: { role: "assistant", content: outcome.text }, finish_reason: finish }],
              usage
            }
            : {
              id,
              object: "text_completion",
              created,
              model: body.model,
              choices: [{ index: 0, text: outcome.text, finish_reason: finish }],
              usage
            }
        )
      })

    return handlers
      .handleRaw("models", () =>
        Effect.gen(function*() {
          const statuses = yield* pools.list.pipe(Effect.mapError(fromPoolError))
          const created = Math.floor((yield* Clock.currentTimeMillis) / 1000)
          const models = [...new Set(statuses.map((s) => s.model))].sort()
          return HttpServerResponse.unsafeJson({
            object: "list",
            data: models.map((model) => ({ id: model, object: "model", created, owned_by: "llama-orch" }))
          })
        }).pipe(recoverOpenAi))
      .handleRaw("chat", () =>
        Effect.gen(function*() {
          const body = yield* readChat
          const messages = body.messages.map((m) => ({
            role: m.role,
            content: typeof m.content === "string" ? m.content : m.content.map((part) => part.text).join("")
          }))
          const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? settings.openAiDefaultMaxTokens
          const request = yield* toTaskRequest(body, maxTokens, { messages })
          return yield* run("chat", body, request)
        }).pipe(recoverOpenAi))
      .handleRaw("completions", () =>
        Effect.gen(function*() {
          const body = yield* readCompletion
          const prompt = typeof body.prompt === "string" ? body.prompt : body.prompt.join("")
          const request = yield* toTaskRequest(body, body.max_tokens ?? settings.openAiDefaultMaxTokens, { prompt })
          return yield* run("text", body, request)
        }).pipe(recoverOpenAi))
  }))

const notRetained = Failed.make({
  code: "INTERNAL",
  message: "the task's events are no longer retained",
  retriable: true
})
