/**
 * HTTP helpers shared by the llama-server and OpenAI routes: body decoding, error bodies, SSE.
 *
 * @internal
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { Readable } from "node:stream"

/** A request the engine refuses, before any generation starts. */
export interface Rejection {
  readonly status: number
  readonly message: string
  readonly type: string
}

/** Builds a rejection. */
export const reject = (status: number, message: string, type = "invalid_request_error"): Rejection => ({
  status,
  message,
  type
})

/** llama-server's error body: `{ error: { code, message, type } }`. */
export const llamaError = (rejection: Rejection): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(
    { error: { code: rejection.status, message: rejection.message, type: rejection.type } },
    { status: rejection.status }
  )

/** OpenAI's error envelope: `{ error: { message, type, param, code } }`. */
export const openAiError = (rejection: Rejection): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(
    { error: { message: rejection.message, type: rejection.type, param: null, code: rejection.status } },
    { status: rejection.status }
  )

/** Reads the JSON body and decodes it with `schema`; bad JSON or a bad shape is a 400 rejection. */
export const decodeBody = <A, I>(
  schema: Schema.Schema<A, I>
): Effect.Effect<Either.Either<A, Rejection>, never, HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const text = yield* Effect.either(request.text)
    if (Either.isLeft(text)) return Either.left(reject(400, "Failed to read the request body"))
    const json = yield* Effect.try((): unknown => JSON.parse(text.right)).pipe(Effect.either)
    if (Either.isLeft(json)) return Either.left(reject(400, "Failed to parse the request body as JSON"))
    return Schema.decodeUnknownEither(schema)(json.right).pipe(
      Either.mapLeft((error) => reject(400, ParseResult.TreeFormatter.formatErrorSync(error)))
    )
  })

/**
 * An SSE response of `data: <json>` events written by `write` (which runs in the request's scope,
 * so a client that goes away interrupts it), then `done` as a last raw event. The body is a Node
 * readable the server pipes to the socket: an event costs one push.
 */
export const sse = (
  write: (send: (payload: unknown) => void) => Effect.Effect<void>,
  done?: string
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, Scope.Scope> =>
  Effect.gen(function*() {
    const body = new Readable({ read() {} })
    yield* write((payload) => body.push(`data: ${JSON.stringify(payload)}\n\n`)).pipe(
      Effect.zipRight(Effect.sync(() => {
        if (done !== undefined) body.push(`data: ${done}\n\n`)
        body.push(null)
      })),
      Effect.forkScoped
    )
    return HttpServerResponse.raw(body, {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
    })
  })

/** A string or a list of strings, as prompts and stop lists come. */
export const StringOrStrings = Schema.Union(Schema.String, Schema.Array(Schema.String))

/** Normalizes a string-or-list to a list. */
export const toList = (value: string | ReadonlyArray<string> | null | undefined): ReadonlyArray<string> =>
  value === undefined || value === null ? [] : typeof value === "string" ? [value] : value
