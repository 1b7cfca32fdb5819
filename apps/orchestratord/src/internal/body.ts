import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type ApiFailure, fromParseError, invalidParams, payloadTooLarge } from "../ApiFailure.js"
import { ServerSettings } from "../ServerSettings.js"

const parse = (text: string): Either.Either<unknown, ApiFailure> => {
  try {
    return Either.right(JSON.parse(text))
  } catch {
    return Either.left(invalidParams("the request body is not valid JSON"))
  }
}

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
    if (declared > maxBodyBytes) return yield* Effect.fail(payloadTooLarge(maxBodyBytes))
    const text = yield* request.text.pipe(
      HttpIncomingMessage.withMaxBodySize(Option.some(maxBodyBytes)),
      Effect.mapError(() => payloadTooLarge(maxBodyBytes))
    )
    if (text.trim() === "") return yield* Effect.fail(invalidParams("the request body is empty; expected JSON"))
    const json = parse(text)
    if (Either.isLeft(json)) return yield* Effect.fail(json.left)
    const decoded = decode(json.right)
    return Either.isLeft(decoded) ? yield* Effect.fail(fromParseError(decoded.left)) : decoded.right
  })
}
