/**
 * OpenAI request bodies as task requests: the sampling fields become the task's own, the
 * parameters orchestratord does not act on become `engine_params`, sent to the engine as they are.
 *
 * @internal
 */
import { TaskRequest } from "@llama-orch/orchestrator-core"
import type { PoolStatus } from "@llama-orch/pool-core"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { type ApiFailure, fromParseError, invalidParams } from "../ApiFailure.js"
import type { ChatCompletionRequest, CompletionRequest } from "../OpenAiSchemas.js"
import { passThroughKeys } from "../OpenAiSchemas.js"
import type { Kind } from "./openAiChoices.js"

const decodeTaskRequest = Schema.decodeUnknownEither(TaskRequest)

/** The fields of a body sent to the engine as they are: the kind's pass-through keys that are set. */
const engineParams = (kind: Kind, body: Record<string, unknown>): Record<string, unknown> | undefined => {
  let params: Record<string, unknown> | undefined
  for (const key of passThroughKeys[kind === "chat" ? "chat" : "text"]) {
    const value = body[key]
    if (value !== undefined && value !== null) (params ??= {})[key] = value
  }
  return params
}

const asRecord = (body: object): Record<string, unknown> => ({ ...body })

const toTaskRequest = (
  kind: Kind,
  body: ChatCompletionRequest | CompletionRequest,
  maxTokens: number,
  input: { readonly prompt: string } | { readonly messages: ReadonlyArray<object> }
): Either.Either<TaskRequest, ApiFailure> => {
  const params = engineParams(kind, asRecord(body))
  return Either.mapLeft(
    decodeTaskRequest({
      model_ref: body.model,
      max_tokens: maxTokens,
      ...input,
      ...(body.temperature == null ? {} : { temperature: body.temperature }),
      ...(body.top_p == null ? {} : { top_p: body.top_p }),
      ...(body.seed == null ? {} : { seed: body.seed }),
      ...(body.stop == null ? {} : { stop: typeof body.stop === "string" ? [body.stop] : body.stop }),
      ...(params === undefined ? {} : { engine_params: params })
    }),
    fromParseError
  )
}

/** A chat request as a task: messages keep their tool calls and tool answers; text parts are joined. */
export const chatTask = (body: ChatCompletionRequest, defaultMaxTokens: number) =>
  toTaskRequest(
    "chat",
    body,
    body.max_completion_tokens ?? body.max_tokens ?? defaultMaxTokens,
    {
      messages: body.messages.map((m) => ({
        role: m.role,
        content: m.content == null
          ? ""
          : typeof m.content === "string"
          ? m.content
          : m.content.map((part) => part.text).join(""),
        ...(m.tool_calls === undefined ? {} : { tool_calls: m.tool_calls }),
        ...(m.tool_call_id === undefined ? {} : { tool_call_id: m.tool_call_id }),
        ...(m.name === undefined ? {} : { name: m.name })
      }))
    }
  )

/** A text completion request as a task. */
export const completionTask = (body: CompletionRequest, defaultMaxTokens: number) =>
  toTaskRequest(
    "text",
    body,
    body.max_tokens ?? defaultMaxTokens,
    { prompt: typeof body.prompt === "string" ? body.prompt : body.prompt.join("") }
  )

/**
 * What the engines serving the model cannot honour, as a 400 naming the parameter: llama-server
 * generates one choice per request (`n` must be 1 where a llama.cpp pool could take the task).
 */
export const unsupportedBy = (
  request: TaskRequest,
  pools: ReadonlyArray<PoolStatus>
): ApiFailure | undefined => {
  const n = request.engineParams?.n
  if (typeof n !== "number" || n <= 1) return undefined
  const llama = pools.find((p) => p.model === request.modelRef && p.protocol === "llamacpp")
  return llama === undefined ? undefined : invalidParams(
    `n: pool ${llama.poolId} serves ${request.modelRef} with llama.cpp, which generates one choice per request; ` +
      "send n: 1 (or several requests)",
    "n"
  )
}

/** Whether the request needs the pools' protocols checked (only then is the pool list read). */
export const needsProtocolCheck = (request: TaskRequest): boolean => {
  const n = request.engineParams?.n
  return typeof n === "number" && n > 1
}
