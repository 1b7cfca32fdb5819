import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type ApiFailure, fromParseError, invalidParams, payloadTooLarge } from "../ApiFailure.js"
import { ServerSettings } from "../ServerSettings.js"

const parse = (text: string): Effect.Effect<unknown, ApiFailure> =>
  Effect.try({
    try: (): unknown => JSON.parse(text),
    catch: () => invalidParams("the request body is not valid JSON")
  })

/**
 * Reads the request body as JSON, enforcing the body limit, and decodes it with `schema`. Every
 * failure is a typed 4xx: 413 for an oversize body, 400 for malformed JSON or a schema violation.
 */
export const readJson = <A, I>(
  schema: Schema.Schema<A, I>
): Effect.Effect<A, ApiFailure, HttpServerRequest.HttpServerRequest | ServerSettings> =>
  Effect.gen(function*() {
    const { maxBodyBytes } = yield* ServerSettings
    const request = yield* HttpServerRequest.HttpServerRequest
    const declared = Number(request.headers["content-length"] ?? "0")
    if (declared > maxBodyBytes) return yield* Effect.fail(payloadTooLarge(maxBodyBytes))
    const text = yield* request.text.pipe(
      HttpIncomingMessage.withMaxBodySize(Option.some(maxBodyBytes)),
      Effect.mapError(() => payloadTooLarge(maxBodyBytes))
    )
    if (text.trim() === "") return yield* Effect.fail(invalidParams("the request body is empty; expected JSON"))
    const json = yield* parse(text)
    return yield* Schema.decodeUnknown(schema, { onExcessProperty: "ignore" })(json).pipe(
      Effect.mapError(fromParseError)
    )
  })
