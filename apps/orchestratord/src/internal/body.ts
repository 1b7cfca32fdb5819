/**
 * Reading a request body as JSON within `max_body_bytes`, decoded with a Schema: an oversized,
 * malformed or invalid body is a typed `ApiFailure`, never a buffered attack.
 *
 * @internal
 */
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { RpcHttpGuard } from "@llama-orch/pool-core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { IncomingMessage } from "node:http"
import { type ApiFailure, fromParseError, invalidParams, payloadTooLarge } from "../ApiFailure.js"
import { ServerSettings } from "../ServerSettings.js"
import { nodeRequest } from "./nodeHttp.js"

const parse = (text: string): Either.Either<unknown, ApiFailure> => {
  try {
    return Either.right(JSON.parse(text))
  } catch {
    return Either.left(invalidParams("the request body is not valid JSON"))
  }
}

/**
 * The body Node has already received whole, read at once: no listener, no stream, no scope. Whole
 * means as many bytes buffered as the request's `content-length` declares (Node's `complete` flag
 * comes a turn of the event loop later). `undefined` when the body is not all there yet or has no
 * declared length.
 */
const receivedBody = (source: IncomingMessage, declared: number): Buffer | undefined => {
  if (source.readableFlowing !== null || !(declared > 0) || source.headers["transfer-encoding"] !== undefined) {
    return undefined
  }
  if (source.readableLength < declared) return undefined
  const chunk: unknown = source.read()
  return Buffer.isBuffer(chunk) ? chunk : undefined
}

/**
 * Reads the rest of the body as it arrives, up to `limit` bytes. Past the limit it stops keeping
 * what arrives, reads and throws away the rest (up to `RpcHttpGuard.discardLimitBytes`) and fails
 * with 413: a client still sending reads its 413 rather than a reset connection (EPIPE).
 */
const streamedBody = (source: IncomingMessage, limit: number): Effect.Effect<Buffer, ApiFailure> =>
  Effect.flatMap(RpcHttpGuard.readBounded(source, limit), (read) => {
    switch (read._tag) {
      case "Body":
        return Effect.succeed(read.body)
      case "TooLarge":
        return refuseTooLarge(source, limit)
      case "Failed":
        return Effect.fail(invalidParams("the request body could not be read to its end"))
    }
  })

/** The 413 for an oversized body, once the rest of it has been read and discarded (bounded). */
const refuseTooLarge = (source: IncomingMessage | undefined, limit: number): Effect.Effect<never, ApiFailure> =>
  Effect.zipRight(
    source === undefined ? Effect.void : RpcHttpGuard.discardRest(source, RpcHttpGuard.discardLimitBytes),
    Effect.fail(payloadTooLarge(limit))
  )

/**
 * The body of a Node request: taken at once when it is all there, else read as it arrives. The
 * handler starts inside Node's `request` event, before the parser has read past the headers, so a
 * small body that came with them is buffered only after one yield.
 */
const nodeBody = (source: IncomingMessage, declared: number, limit: number): Effect.Effect<Buffer, ApiFailure> =>
  Effect.flatMap(Effect.yieldNow(), () => {
    const received = receivedBody(source, declared)
    return received === undefined ? streamedBody(source, limit) : Effect.succeed(received)
  })

/**
 * Reads the request body as JSON, enforcing the body limit, and decodes it with `schema`. Every
 * failure is a typed 4xx: 413 for an oversize body, 400 for malformed JSON or a schema violation.
 */
export const readJson = <A, I>(
  schema: Schema.Schema<A, I>
): Effect.Effect<A, ApiFailure, HttpServerRequest.HttpServerRequest | ServerSettings> => {
  // the schemas of request bodies are synchronous: decoding is a function call, not an effect
  const decode = Schema.decodeUnknownEither(schema, { onExcessProperty: "ignore" })
  return Effect.gen(function*() {
    const { maxBodyBytes } = yield* ServerSettings
    const request = yield* HttpServerRequest.HttpServerRequest
    const declared = Number(request.headers["content-length"] ?? "0")
    const source = nodeRequest(request)
    if (declared > maxBodyBytes) return yield* refuseTooLarge(source, maxBodyBytes)
    const text = source === undefined
      ? yield* request.text.pipe(
        HttpIncomingMessage.withMaxBodySize(Option.some(maxBodyBytes)),
        Effect.mapError(() => payloadTooLarge(maxBodyBytes))
      )
      : (yield* nodeBody(source, declared, maxBodyBytes)).toString("utf8")
    if (text.trim() === "") return yield* Effect.fail(invalidParams("the request body is empty; expected JSON"))
    // a 3000-deep body overflowed the stack while its Schema error was formatted (a 500)
    if (RpcHttpGuard.jsonNestsDeeperThan(text, RpcHttpGuard.maxJsonDepth)) {
      return yield* Effect.fail(
        invalidParams(`the request body nests deeper than ${RpcHttpGuard.maxJsonDepth} levels`)
      )
    }
    const json = parse(text)
    if (Either.isLeft(json)) return yield* Effect.fail(json.left)
    const decoded = decode(json.right)
    return Either.isLeft(decoded) ? yield* Effect.fail(fromParseError(decoded.left)) : decoded.right
  })
}
