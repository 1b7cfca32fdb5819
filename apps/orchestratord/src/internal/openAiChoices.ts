/**
 * OpenAI choices from task events: the chunks of a stream and the choices of a whole answer,
 * including what engines send beyond text (`Token.c` and `Token.x`: several choices, tool-call
 * deltas, log probabilities, reasoning text), merged the way OpenAI clients merge them.
 *
 * @internal
 */
import type { End, Token } from "@llama-orch/orchestrator-core"
import type { ChatChoice, TextChoice, Usage } from "../OpenAiSchemas.js"

/** Chat or text completion. */
export type Kind = "chat" | "text"

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** The `choices[]` entry of a stream chunk for a token event that carries more than text. */
export const richChoice = (kind: Kind, event: Token, first: boolean): Record<string, unknown> => {
  const x = event.x ?? {}
  const extraDelta = isRecord(x.delta) ? x.delta : {}
  const common = { index: event.c ?? 0 }
  const tail = {
    logprobs: x.logprobs ?? null,
    finish_reason: typeof x.finish_reason === "string" ? x.finish_reason : null
  }
  if (kind === "text") return { ...common, text: event.t, ...tail }
  return {
    ...common,
    delta: {
      ...(first ? { role: "assistant" } : {}),
      ...(event.t === "" ? {} : { content: event.t }),
      ...extraDelta
    },
    ...tail
  }
}

interface ToolCall {
  id: string
  function: { name: string; arguments: string }
}

/** One choice as it is gathered. */
class Choice {
  text = ""
  reasoning = ""
  refusal: string | undefined
  readonly toolCalls: Array<ToolCall> = []
  logprobs: Record<string, unknown> | undefined
  finish: string | undefined

  add(event: Token): void {
    this.text += event.t
    const x = event.x
    if (x === undefined) return
    if (typeof x.finish_reason === "string") this.finish = x.finish_reason
    if (isRecord(x.logprobs)) this.logprobs = mergeLogprobs(this.logprobs, x.logprobs)
    const delta = x.delta
    if (!isRecord(delta)) return
    if (typeof delta.reasoning_content === "string") this.reasoning += delta.reasoning_content
    if (typeof delta.refusal === "string") this.refusal = (this.refusal ?? "") + delta.refusal
    if (Array.isArray(delta.tool_calls)) { for (const call of delta.tool_calls) this.addCall(call) }
  }

  /** Merges one tool-call delta: the first one of an index names the call, the rest add arguments. */
  private addCall(delta: unknown): void {
    if (!isRecord(delta)) return
    const index = typeof delta.index === "number" ? delta.index : this.toolCalls.length
    const call = this.toolCalls[index] ??= { id: "", function: { name: "", arguments: "" } }
    if (typeof delta.id === "string") call.id = delta.id
    const fn = delta.function
    if (isRecord(fn)) {
      if (typeof fn.name === "string") call.function.name += fn.name
      if (typeof fn.arguments === "string") call.function.arguments += fn.arguments
    }
  }
}

/** Concatenates the arrays of two log-probability blocks (`content`, `tokens`, `token_logprobs`, ...). */
const mergeLogprobs = (
  into: Record<string, unknown> | undefined,
  next: Record<string, unknown>
): Record<string, unknown> => {
  if (into === undefined) return { ...next }
  for (const [key, value] of Object.entries(next)) {
    const prior = into[key]
    into[key] = Array.isArray(prior) && Array.isArray(value) ? [...prior, ...value] : value
  }
  return into
}

/** The choices of a whole (non-streamed) answer, gathered from token events. */
export class Gathered {
  private readonly first = new Choice()
  private readonly choices = new Map<number, Choice>([[0, this.first]])

  /** Folds in one plain-text token of choice 0 (the usual token: no lookup, no fields to merge). */
  addText(text: string): void {
    this.first.text += text
  }

  /** Folds in one token event. */
  add(event: Token): void {
    const index = event.c ?? 0
    let choice = this.choices.get(index)
    if (choice === undefined) {
      choice = new Choice()
      this.choices.set(index, choice)
    }
    choice.add(event)
  }

  /** The choices by index, with choice 0 always there; choice 0 ends with the task's own finish reason. */
  private ordered(finish0: string): ReadonlyArray<readonly [number, Choice, string]> {
    return [...this.choices.entries()].sort(([a], [b]) => a - b).map(([index, choice]) => [
      index,
      choice,
      index === 0 ? finish0 : choice.finish ?? "stop"
    ])
  }

  /** The `choices[]` of a chat answer. */
  chat(finish0: string): Array<typeof ChatChoice.Type> {
    return this.ordered(finish0).map(([index, choice, finish]) => {
      // OpenAI's only kind of tool call: an engine's other spelling of it is not relayed
      const calls = choice.toolCalls.filter((c) => c !== undefined).map((c) => ({ ...c, type: "function" as const }))
      return {
        index,
        message: {
          role: "assistant",
          content: calls.length > 0 && choice.text === "" ? null : choice.text,
          ...(calls.length > 0 ? { tool_calls: calls } : {}),
          ...(choice.reasoning === "" ? {} : { reasoning_content: choice.reasoning }),
          ...(choice.refusal === undefined ? {} : { refusal: choice.refusal })
        },
        logprobs: choice.logprobs ?? null,
        finish_reason: finish
      }
    })
  }

  /** The `choices[]` of a text answer. */
  text(finish0: string): Array<typeof TextChoice.Type> {
    return this.ordered(finish0).map(([index, choice, finish]) => ({
      index,
      text: choice.text,
      logprobs: choice.logprobs ?? null,
      finish_reason: finish
    }))
  }
}

/** The finish reason of choice 0: the engine's, or else `length` when the task used all its tokens. */
export const finishReason = (end: End, maxTokens: number): string =>
  end.finishReason ?? (end.tokensOut >= maxTokens ? "length" : "stop")

/** OpenAI's `usage` from the task's counts (the engine's own, when it reported them). */
export const usageOf = (tokensIn: number, tokensOut: number): typeof Usage.Type => ({
  prompt_tokens: tokensIn,
  completion_tokens: tokensOut,
  total_tokens: tokensIn + tokensOut
})
