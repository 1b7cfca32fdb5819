import type { ChatMessage, TaskRequest } from "../TaskRequest.js"

/** Renders chat messages into one prompt with a simple role-tagged template for completion-only engines. */
export const renderChat = (messages: ReadonlyArray<ChatMessage>): string =>
  messages.map((m) => `<|${m.role}|>\n${m.content}\n`).join("") + "<|assistant|>\n"

/** The prompt text a task sends to a completion endpoint. */
export const promptText = (request: TaskRequest): string =>
  request.prompt ?? (request.messages === undefined ? "" : renderChat(request.messages))

/** Token estimate without a tokenizer: one token per 4 characters, rounded up. */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 4)
