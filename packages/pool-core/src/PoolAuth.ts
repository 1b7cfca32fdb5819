/**
 * Bearer-token authentication of the pool manager's RPC endpoint, as an `RpcMiddleware`.
 *
 * The server compares SHA-256 digests of the presented and the configured token with
 * `crypto.timingSafeEqual`, so neither the token's content nor its length leaks through timing.
 * The token is held as `Redacted` and never appears in an error or a log line.
 *
 * @since 0.1.0
 */
import type * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { createHash, timingSafeEqual } from "node:crypto"
import { guardReply } from "./internal/httpAuthReply.js"
import { Unauthorized } from "./PoolErrors.js"

/**
 * The authentication middleware of every `PoolRpcs` call. Fails with `Unauthorized` when the bearer
 * token is missing or wrong.
 *
 * @category models
 * @since 0.1.0
 */
export class PoolAuthMiddleware extends RpcMiddleware.Tag<PoolAuthMiddleware>()("@llama-orch/pool-core/PoolAuth", {
  failure: Unauthorized,
  requiredForClient: true
}) {}

const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest()

const bearerPrefix = /^bearer\s+/i

/**
 * Reads the bearer token of an `authorization` header value, if it has one.
 *
 * @category utils
 * @since 0.1.0
 */
export const bearerToken = (headers: Headers.Headers): Option.Option<string> => {
  const value = headers["authorization"]
  if (value === undefined || !bearerPrefix.test(value)) return Option.none()
  const token = value.replace(bearerPrefix, "").trim()
  return token.length === 0 ? Option.none() : Option.some(token)
}

/**
 * Compares a presented token with the expected one in constant time (on SHA-256 digests, so the
 * comparison does not depend on either length).
 *
 * @category utils
 * @since 0.1.0
 */
export const tokenMatches = (presented: string, expected: Redacted.Redacted<string>): boolean =>
  timingSafeEqual(digest(presented), digest(Redacted.value(expected)))

/**
 * The server side of `PoolAuth`. With a token, every call must carry `authorization: Bearer <token>`;
 * with `undefined`, every call is allowed (for a daemon bound to loopback without a token).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerServer = (token: Redacted.Redacted<string> | undefined): Layer.Layer<PoolAuthMiddleware> =>
  Layer.succeed(
    PoolAuthMiddleware,
    PoolAuthMiddleware.of(({ headers }) => {
      if (token === undefined) return Effect.void
      return Option.match(bearerToken(headers), {
        onNone: () => Effect.fail(new Unauthorized({ reason: "missing bearer token" })),
        onSome: (presented) =>
          tokenMatches(presented, token)
            ? Effect.void
            : Effect.fail(new Unauthorized({ reason: "invalid bearer token" }))
      })
    })
  )

/**
 * The client side of `PoolAuth`: adds `authorization: Bearer <token>` to every request (nothing when
 * `token` is `undefined`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerClient = (
  token: Redacted.Redacted<string> | undefined
): Layer.Layer<RpcMiddleware.ForClient<PoolAuthMiddleware>> =>
  RpcMiddleware.layerClient(PoolAuthMiddleware, ({ request }) =>
    Effect.succeed(
      token === undefined
        ? request
        : { ...request, headers: { ...request.headers, authorization: `Bearer ${Redacted.value(token)}` } }
    ))

const isGuardRefusal = (response: HttpClientResponse.HttpClientResponse): boolean =>
  (response.status === 400 || response.status === 401 || response.status === 413) &&
  (response.headers["content-type"] ?? "").startsWith("application/json")

/**
 * For `RpcClient.layerProtocolHttp({ url, transformClient })`: sends `authorization: Bearer <token>`
 * as an HTTP header of every POST too (nothing when `token` is `undefined`), so the server can
 * refuse an unauthenticated request before it reads the body; the server's 401 then comes back as
 * the typed `Unauthorized` of each call, and a 413 or 400 as a defect of each call (not a wait
 * forever). `layerClient` still puts the token in each call for the
 * `RpcMiddleware` behind.
 *
 * @category utils
 * @since 0.1.0
 */
export const httpClientAuth =
  (token: Redacted.Redacted<string> | undefined) =>
  <E, R>(client: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<E, R> =>
    (token === undefined ? client : HttpClient.mapRequest(client, HttpClientRequest.bearerToken(Redacted.value(token))))
      .pipe(
        HttpClient.transform((response, request) =>
          Effect.flatMap(response, (r) => isGuardRefusal(r) ? guardReply(request, r) : Effect.succeed(r))
        )
      )
