/**
 * The client side of `RpcHttpGuard`'s refusals, which name no call (a 401 is answered before the
 * body is read): a 401 becomes the typed `Unauthorized` failure of each call the request carried,
 * as the `RpcMiddleware` would have answered it; any other refusal (413, 400) a defect of each
 * call. Without this the RPC client waits forever for an answer that is not NDJSON.
 *
 * @internal
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

/** An NDJSON reply ending every call of `request` for a refusal of the guard (`Unauthorized` for 401). */
export const guardReply = (
  request: HttpClientRequest.HttpClientRequest,
  response: HttpClientResponse.HttpClientResponse
): Effect.Effect<HttpClientResponse.HttpClientResponse> =>
  Effect.map(Effect.orElseSucceed(response.text, () => ""), (text) => {
    const refusal = decodeRefusal(text)
    const reason = refusal._tag === "Some" ? refusal.value.error.message : `HTTP ${response.status}`
    const exit = encodeExit(
      response.status === 401
        ? Exit.fail(new Unauthorized({ reason }))
        : Exit.die(`pool-managerd refused the request (HTTP ${response.status}): ${reason}`)
    )
    const frames = requestIds(request).map((id) => JSON.stringify({ _tag: "Exit", requestId: id, exit }) + "\n")
    return HttpClientResponse.fromWeb(
      request,
      new Response(frames.join(""), { status: 200, headers: { "content-type": "application/ndjson" } })
    )
  })
