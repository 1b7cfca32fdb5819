/**
 * The client side of the HTTP-level token check: a 401 from `RpcHttpGuard` (answered before the
 * server read the body, so it names no call) becomes the typed `Unauthorized` failure of the call
 * the request carried, as the `RpcMiddleware` would have answered it.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { Unauthorized } from "../PoolErrors.js"

const RequestIds = Schema.parseJson(Schema.Struct({ _tag: Schema.Literal("Request"), id: Schema.String }))
const decodeRequest = Schema.decodeUnknownOption(RequestIds)
const encodeExit = Schema.encodeSync(
  Schema.Exit({ success: Schema.Unknown, failure: Unauthorized, defect: Schema.Defect })
)
const GuardRefusal = Schema.parseJson(Schema.Struct({ error: Schema.Struct({ message: Schema.String }) }))
const decodeRefusal = Schema.decodeUnknownOption(GuardRefusal)

/** The ids of the calls an NDJSON request body carries. */
const requestIds = (request: HttpClientRequest.HttpClientRequest): ReadonlyArray<string> => {
  const body = request.body
  if (body._tag !== "Uint8Array") return []
  return new TextDecoder().decode(body.body).split("\n").flatMap((line) => {
    const decoded = decodeRequest(line)
    return decoded._tag === "Some" ? [decoded.value.id] : []
  })
}

/** An NDJSON reply failing every call of `request` with `Unauthorized`, for a 401 answer. */
export const unauthorizedReply = (
  request: HttpClientRequest.HttpClientRequest,
  response: HttpClientResponse.HttpClientResponse
): Effect.Effect<HttpClientResponse.HttpClientResponse> =>
  Effect.map(Effect.orElseSucceed(response.text, () => ""), (text) => {
    const refusal = decodeRefusal(text)
    const reason = refusal._tag === "Some" ? refusal.value.error.message : "the server refused the token"
    const exit = encodeExit(Exit.fail(new Unauthorized({ reason })))
    const frames = requestIds(request).map((id) => JSON.stringify({ _tag: "Exit", requestId: id, exit }) + "\n")
    return HttpClientResponse.fromWeb(
      request,
      new Response(frames.join(""), { status: 200, headers: { "content-type": "application/ndjson" } })
    )
  })
