/**
 * The Node objects behind the platform's request, for the paths that read and write them
 * directly (request bodies, event streams). `undefined` when the server is not Node's.
 *
 * @internal
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { IncomingMessage, ServerResponse } from "node:http"

/** Node's request behind `request`, when it is one. */
export const nodeRequest = (request: HttpServerRequest.HttpServerRequest): IncomingMessage | undefined => {
  const source: unknown = NodeHttpServerRequest.toIncomingMessage(request)
  return source instanceof IncomingMessage ? source : undefined
}

/** Node's response behind `request`, when it is one. */
export const nodeResponse = (request: HttpServerRequest.HttpServerRequest): ServerResponse | undefined => {
  const response: unknown = NodeHttpServerRequest.toServerResponse(request)
  return response instanceof ServerResponse ? response : undefined
}
