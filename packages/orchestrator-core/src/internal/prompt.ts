/**
 * The prompt of a task: chat messages rendered to text, and the token estimate admission uses.
 *
 * @internal
 */
import type { ChatMessage, TaskRequest } from "../TaskRequest.js"

/**
 * Chat messages as one text, only to estimate their tokens at admission: what the engine sees is
 * rendered by the engine, with the model's own chat template.
 */
export const renderChat = (messages: ReadonlyArray<ChatMessage>): string =>
  messages.map((m) => `<|${m.role}|>\n${m.content}\n`).join("") + "<|assistant|>\n"

/** The text a task's prompt tokens are estimated from. */
export const promptText = (request: TaskRequest): string =>
  request.prompt ?? (request.messages === undefined ? "" : renderChat(request.messages))

/** Token estimate without a tokenizer: one token per 4 characters, rounded up. */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 4)
