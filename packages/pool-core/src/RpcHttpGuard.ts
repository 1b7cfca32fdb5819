/**
 * The HTTP-level guard in front of the RPC endpoint: the bearer token is checked from the request's
 * headers BEFORE a byte of the body is read, and the body is capped (by its declared length at
 * once, and while it streams in when it has none), so an unauthenticated or oversized request
 * cannot make the daemon buffer without bound. `PoolAuth`'s `RpcMiddleware` still checks every call
 * behind it.
 *
 * Refusals answer with the pool-managerd error envelope `{"error":{"code","message"}}`. On Node, what
 * is left of a refused body is first read and thrown away (up to `discardLimitBytes`; past it reading
 * stops and the answer goes out) so the client still sending it reads the
 * refusal instead of a reset connection.
 *
 * @since 0.1.0
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { discardRest, incomingMessage, readBounded } from "./internal/nodeBody.js"

export {
  /**
   * Before a refusal on Node: reads and throws away the rest of the body (completing when it ended,
   * or past `limit` more bytes), so the client still sending it reads the answer, not EPIPE.
   *
   * @since 0.1.0
   */
  discardRest,
  /**
   * Reads a Node request body as it arrives, keeping at most `limit` bytes: `Body`, `TooLarge`
   * (at once, past the limit) or `Failed`.
   *
   * @since 0.1.0
   */
  readBounded
}
import { bearerToken, tokenMatches } from "./PoolAuth.js"

/**
 * The default cap on an RPC request body (and on one NDJSON frame): 1 MiB. A `Register` spec, the
 * largest RPC payload, is a few KiB.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultMaxBodyBytes = 1024 * 1024

/**
 * How much of a refused body is read and thrown away before the answer goes out anyway (reading
 * then stops): 16 MiB.
 *
 * @category constants
 * @since 0.1.0
 */
export const discardLimitBytes = 16 * 1024 * 1024

/**
 * The deepest nesting of arrays and objects an RPC request may have: 64. The calls nest a few
 * levels; a 3000-deep payload made the RPC server overflow its stack formatting the Schema error
 * (a 500).
 *
 * @category constants
 * @since 0.1.0
 */
export const maxJsonDepth = 64

/**
 * Whether JSON text (or NDJSON: every line) nests arrays and objects deeper than `limit`, found in
 * one pass over the text without parsing it (brackets inside strings do not count).
 *
 * @category utils
 * @since 0.1.0
 */
export const jsonNestsDeeperThan = (text: string, limit: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 91 || c === 123) {
      if (++depth > limit) return true
    } else if (c === 93 || c === 125) depth--
  }
  return false
}

/**
 * The body of every HTTP-level refusal of pool-managerd: `{"error":{"code":"…","message":"…"}}`
 * (401 `UNAUTHORIZED`, 413 `PAYLOAD_TOO_LARGE`, 400 `INVALID_REQUEST` for a body nested too deep).
 *
 * @category schemas
 * @since 0.1.0
 */
export const HttpErrorEnvelope = Schema.Struct({
  error: Schema.Struct({
    code: Schema.Literal("UNAUTHORIZED", "PAYLOAD_TOO_LARGE", "INVALID_REQUEST"),
    message: Schema.String
  })
})

/**
 * A value of the `HttpErrorEnvelope` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type HttpErrorEnvelope = typeof HttpErrorEnvelope.Type

/**
 * Options of `guard`.
 *
 * @category models
 * @since 0.1.0
 */
export interface GuardOptions {
  /** Bearer token every request must carry; `undefined` lets every request through. */
  readonly token: Redacted.Redacted<string> | undefined
  /** The largest request body read, in bytes. */
  readonly maxBodyBytes: number
}

const refuse = (
  request: HttpServerRequest.HttpServerRequest,
  status: 400 | 401 | 413,
  envelope: HttpErrorEnvelope
) => {
  const source = incomingMessage(request.source)
  const response = HttpServerResponse.unsafeJson(envelope, {
    status,
    headers: status === 401 ? { "www-authenticate": "Bearer" } : {}
  })
  return source === undefined ? Effect.succeed(response) : Effect.as(discardRest(source, discardLimitBytes), response)
}

const unauthorized = (request: HttpServerRequest.HttpServerRequest, message: string) =>
  refuse(request, 401, { error: { code: "UNAUTHORIZED", message } })

const tooLarge = (request: HttpServerRequest.HttpServerRequest, limit: number) =>
  refuse(request, 413, { error: { code: "PAYLOAD_TOO_LARGE", message: `request body exceeds ${limit} bytes` } })

/**
 * The body, read with the cap: on Node by hand (so an oversized body is refused with a 413 the
 * client can read, not a reset connection), elsewhere with the platform's `MaxBodySize`. `None`
 * when it is over the cap.
 */
const readCapped = (
  request: HttpServerRequest.HttpServerRequest,
  limit: number
): Effect.Effect<Option.Option<string>> => {
  const source = incomingMessage(request.source)
  if (source === undefined) {
    return request.text.pipe(
      HttpIncomingMessage.withMaxBodySize(Option.some(limit)),
      Effect.option
    )
  }
  return Effect.map(
    readBounded(source, limit),
    (read) => read._tag === "Body" ? Option.some(read.body.toString("utf8")) : Option.none()
  )
}

/** The request with its body already read (the RPC protocol behind reads it again). */
const withBody = (request: HttpServerRequest.HttpServerRequest, text: string): HttpServerRequest.HttpServerRequest =>
  HttpServerRequest.fromWeb(
    new Request(new URL(request.url, "http://pool-managerd"), {
      method: request.method,
      headers: request.headers,
      body: text
    })
  )

const authFailure = (
  headers: HttpServerRequest.HttpServerRequest["headers"],
  token: Redacted.Redacted<string>
): string | undefined =>
  Option.match(bearerToken(headers), {
    onNone: () => "missing bearer token",
    onSome: (presented) => tokenMatches(presented, token) ? undefined : "invalid bearer token"
  })

const declaredLength = (headers: HttpServerRequest.HttpServerRequest["headers"]): number => {
  const value = headers["content-length"]
  return value === undefined ? 0 : Number(value)
}

/**
 * Wraps the RPC `HttpApp` of `POST /rpc`: 401 unless the `authorization` header carries the bearer
 * token (checked before the body is read), 413 when the declared length is
 * over `maxBodyBytes`, and otherwise reads the body with that cap while it streams and hands the
 * app a request carrying the text read. A body without a declared length that grows past the cap
 * is refused with 413 there; nothing past the cap is kept.
 *
 * @category utils
 * @since 0.1.0
 */
export const guard = <E, R>(
  app: HttpApp.Default<E, R>,
  options: GuardOptions
): HttpApp.Default<E, R | HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    // a WebSocket client cannot always set headers on the upgrade: its calls are checked by the
    // RpcMiddleware, one message at a time
    if (request.method !== "POST") return yield* app
    if (options.token !== undefined) {
      const failure = authFailure(request.headers, options.token)
      if (failure !== undefined) return yield* unauthorized(request, failure)
    }
    const declared = declaredLength(request.headers)
    if (!(declared <= options.maxBodyBytes)) return yield* tooLarge(request, options.maxBodyBytes)
    const body = yield* readCapped(request, options.maxBodyBytes)
    if (Option.isNone(body)) return yield* tooLarge(request, options.maxBodyBytes)
    if (jsonNestsDeeperThan(body.value, maxJsonDepth)) {
      return yield* refuse(request, 400, {
        error: { code: "INVALID_REQUEST", message: `the request nests deeper than ${maxJsonDepth} levels` }
      })
    }
    return yield* Effect.provideService(app, HttpServerRequest.HttpServerRequest, withBody(request, body.value))
  }).pipe(HttpIncomingMessage.withMaxBodySize(Option.some(options.maxBodyBytes)))
