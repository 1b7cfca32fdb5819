/**
 * The request guard: what keeps web pages in a browser on the same machine away from a daemon.
 *
 * A page can send "simple" cross-site requests (a `text/plain` POST, a form) without a preflight,
 * open WebSockets to any origin, and — through DNS rebinding, a name of its own that resolves to
 * 127.0.0.1 — read the answers of a loopback daemon. The guard refuses all three before a route
 * runs (and before any body is read):
 *
 * - `Host`: on a loopback bind only `localhost`, loopback addresses and the configured
 *   `allowed_hosts` are served (403 otherwise); beyond loopback, any host unless `allowed_hosts` is set;
 * - `Origin`: a state-changing request (any method but GET, HEAD, OPTIONS) and every WebSocket
 *   upgrade that carries an `Origin` must come from the daemon's own origin or a configured
 *   `allowed_origins` entry (403 otherwise; no origin means no browser, and is allowed);
 * - bodies: a request with a body must declare one of the accepted media types (415 otherwise), so
 *   no form or `text/plain` POST reaches a handler.
 *
 * Browser clients of the configured origins get CORS: preflight `OPTIONS` answers 204 with the
 * allowed methods and headers, and responses carry `Access-Control-Allow-Origin`.
 *
 * @since 0.1.0
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { isLoopbackHost } from "./BindSafety.js"

/**
 * An allowed browser origin: `scheme://host[:port]` with scheme `http` or `https` and no path,
 * query or credentials, or `*` for every origin (only with a token).
 *
 * @category schemas
 * @since 0.1.0
 */
export const AllowedOrigin = Schema.String.pipe(
  Schema.filter((value) =>
    value === "*" || parseOrigin(value) !== undefined
      ? true
      : `an origin is scheme://host[:port] (http or https, no path), or "*"; got "${value}"`
  ),
  Schema.annotations({ identifier: "AllowedOrigin" })
)

/**
 * An extra host name the daemon answers to (the `Host` header without its port), such as
 * `llm.internal` or `gpu-a.example.com`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const AllowedHost = Schema.String.pipe(
  Schema.pattern(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\.?)$/, {
    message: () => "a host name or address without port, e.g. llm.internal or [fd00::1]"
  }),
  Schema.annotations({ identifier: "AllowedHost" })
)

/**
 * What the guard allows.
 *
 * @category models
 * @since 0.1.0
 */
export interface GuardOptions {
  /** The address the daemon listens on: on a loopback bind the `Host` allow-list is always on. */
  readonly bindHost: string
  /** Host names served besides `localhost` and loopback addresses. */
  readonly allowedHosts: ReadonlyArray<string>
  /** Browser origins allowed to change state and to use CORS (`*`: every origin). */
  readonly allowedOrigins: ReadonlyArray<string>
  /** Media types accepted for request bodies (e.g. `application/json`). */
  readonly bodyTypes: ReadonlyArray<string>
}

/**
 * The parts of a request the guard reads.
 *
 * @category models
 * @since 0.1.0
 */
export interface GuardRequest {
  readonly method: string
  readonly headers: Readonly<Record<string, string | undefined>>
}

/**
 * A refused request: 403 (host or origin) or 415 (body media type), with a sentence for the client.
 *
 * @category models
 * @since 0.1.0
 */
export interface Refusal {
  readonly _tag: "Refused"
  readonly status: 403 | 415
  readonly reason: "host" | "origin" | "media-type"
  readonly message: string
}

/**
 * The guard's decision: refuse, answer a CORS preflight, or let the request through (with the
 * origin to name in `Access-Control-Allow-Origin`, when the request came from an allowed one).
 *
 * @category models
 * @since 0.1.0
 */
export type Verdict =
  | Refusal
  | { readonly _tag: "Preflight"; readonly origin: string }
  | { readonly _tag: "Allowed"; readonly corsOrigin: string | undefined }

const parseOrigin = (value: string): string | undefined => {
  try {
    const url = new URL(value)
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined
    if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") return undefined
    if (url.pathname !== "/" || value.endsWith("/")) return undefined
    return url.origin
  } catch {
    return undefined
  }
}

const hostName = (host: string): string => {
  const h = host.trim().toLowerCase()
  if (h.startsWith("[")) {
    const end = h.indexOf("]")
    return end === -1 ? h : h.slice(0, end + 1)
  }
  const colon = h.lastIndexOf(":")
  return colon === -1 ? h : h.slice(0, colon)
}

const stripDot = (name: string): string => name.endsWith(".") ? name.slice(0, -1) : name

const safeMethods = new Set(["GET", "HEAD", "OPTIONS"])

const mediaType = (contentType: string | undefined): string | undefined =>
  contentType?.split(";")[0]?.trim().toLowerCase() || undefined

const hasBody = (headers: GuardRequest["headers"]): boolean => {
  if (headers["transfer-encoding"] !== undefined) return true
  const length = headers["content-length"]
  return length !== undefined && length.trim() !== "0"
}

const refuse = (status: 403 | 415, reason: Refusal["reason"], message: string): Refusal => ({
  _tag: "Refused",
  status,
  reason,
  message
})

/**
 * A guard: its options checked and normalized once, and `decide`, a pure function of the request.
 *
 * @category models
 * @since 0.1.0
 */
export interface Guard {
  readonly options: GuardOptions
  readonly decide: (request: GuardRequest) => Verdict
}

/**
 * Builds the guard of `options`. Origins that do not parse are dropped (validate them with
 * `AllowedOrigin` at the configuration boundary).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: GuardOptions): Guard => {
  const anyOrigin = options.allowedOrigins.includes("*")
  const origins = new Set(options.allowedOrigins.flatMap((o) => {
    const parsed = parseOrigin(o)
    return parsed === undefined ? [] : [parsed]
  }))
  const hosts = new Set(options.allowedHosts.map((h) => stripDot(h.trim().toLowerCase())))
  const checkHost = isLoopbackHost(options.bindHost) || hosts.size > 0
  const bodyTypes = new Set(options.bodyTypes.map((t) => t.toLowerCase()))
  const hostAllowed = (name: string): boolean =>
    isLoopbackHost(name) || hosts.has(stripDot(name)) || stripDot(name) === "localhost"

  const decide = (request: GuardRequest): Verdict => {
    const headers = request.headers
    const host = headers["host"]
    if (checkHost && (host === undefined || !hostAllowed(hostName(host)))) {
      return refuse(
        403,
        "host",
        `host "${(host ?? "").slice(0, 100)}" is not served here; add it to allowed_hosts if it is this daemon's name`
      )
    }
    const method = request.method.toUpperCase()
    const origin = headers["origin"]
    const listed = origin !== undefined && (anyOrigin || origins.has(parseOrigin(origin) ?? ""))
    if (method === "OPTIONS" && origin !== undefined && headers["access-control-request-method"] !== undefined) {
      return listed
        ? { _tag: "Preflight", origin }
        : refuse(403, "origin", `origin ${origin.slice(0, 200)} is not allowed; see allowed_origins`)
    }
    const upgrade = headers["upgrade"]?.toLowerCase() === "websocket"
    if (origin !== undefined && !listed && (upgrade || !safeMethods.has(method))) {
      // the page's own origin: the one the request was sent to. Where the `Host` check is on it
      // has already refused other names; beyond loopback without `allowed_hosts` every name is
      // served (and a token is required there, which a rebinding page does not have)
      const own = parseOrigin(origin)
      const sameOrigin = own !== undefined && host !== undefined &&
        own.slice(own.indexOf("//") + 2) === host.trim().toLowerCase().replace(/:(80|443)$/, "")
      if (!sameOrigin) {
        return refuse(403, "origin", `origin ${origin.slice(0, 200)} is not allowed; see allowed_origins`)
      }
    }
    if (!safeMethods.has(method) && hasBody(headers)) {
      const type = mediaType(headers["content-type"])
      if (type === undefined || !bodyTypes.has(type)) {
        return refuse(
          415,
          "media-type",
          `request bodies must be ${[...bodyTypes].join(" or ")}; got ${
            type === undefined ? "no content type" : type.slice(0, 100)
          }`
        )
      }
    }
    return { _tag: "Allowed", corsOrigin: listed ? origin : undefined }
  }
  return { options, decide }
}

/**
 * The headers that CORS clients may send and read.
 *
 * @category utils
 * @since 0.1.0
 */
export const corsHeaders = {
  allowHeaders: "authorization, content-type, x-correlation-id, last-event-id",
  allowMethods: "GET, POST, OPTIONS",
  exposeHeaders: "x-correlation-id, retry-after, x-backoff-ms",
  maxAgeSeconds: 600
} as const

/**
 * The 204 answer to an allowed CORS preflight.
 *
 * @category utils
 * @since 0.1.0
 */
export const preflightResponse = (origin: string): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.empty({
    status: 204,
    headers: {
      "access-control-allow-origin": origin,
      "access-control-allow-methods": corsHeaders.allowMethods,
      "access-control-allow-headers": corsHeaders.allowHeaders,
      "access-control-max-age": String(corsHeaders.maxAgeSeconds),
      vary: "Origin"
    }
  })

/**
 * Adds the CORS headers of an allowed origin to a response (nothing when `origin` is undefined).
 *
 * @category utils
 * @since 0.1.0
 */
export const withCors = (
  response: HttpServerResponse.HttpServerResponse,
  origin: string | undefined
): HttpServerResponse.HttpServerResponse =>
  origin === undefined ? response : HttpServerResponse.setHeaders(response, {
    "access-control-allow-origin": origin,
    "access-control-expose-headers": corsHeaders.exposeHeaders,
    vary: "Origin"
  })

/**
 * Applies the guard to an HTTP app: refusals are answered with `render`, preflights with 204, and
 * allowed responses get their CORS headers.
 *
 * @category utils
 * @since 0.1.0
 */
export const apply = <E, R>(
  guard: Guard,
  render: (refusal: Refusal, request: HttpServerRequest.HttpServerRequest) => HttpServerResponse.HttpServerResponse,
  httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const verdict = guard.decide(request)
    switch (verdict._tag) {
      case "Refused":
        return Effect.succeed(render(verdict, request))
      case "Preflight":
        return Effect.succeed(preflightResponse(verdict.origin))
      case "Allowed":
        return verdict.corsOrigin === undefined
          ? httpEffect
          : Effect.map(httpEffect, (response) => withCors(response, verdict.corsOrigin))
    }
  })

/**
 * A plain JSON refusal `{ code, message }` (`FORBIDDEN` or `UNSUPPORTED_MEDIA_TYPE`), for daemons
 * without an error envelope of their own.
 *
 * @category utils
 * @since 0.1.0
 */
export const renderPlain = (refusal: Refusal): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(
    { code: refusal.status === 415 ? "UNSUPPORTED_MEDIA_TYPE" : "FORBIDDEN", message: refusal.message },
    { status: refusal.status }
  )

/**
 * The guard as a global `HttpLayerRouter` middleware, refusing with `renderPlain`.
 *
 * @category utils
 * @since 0.1.0
 */
export const middleware = (guard: Guard) =>
  HttpLayerRouter.middleware((httpEffect) => apply(guard, renderPlain, httpEffect), { global: true })

/**
 * `*` among the allowed origins lets every web page drive the daemon: refused unless a token
 * protects it. Daemons exit with code 2.
 *
 * @category errors
 * @since 0.1.0
 */
export class WildcardOriginRefused extends Schema.TaggedError<WildcardOriginRefused>()("WildcardOriginRefused", {
  tokenHint: Schema.String
}) {
  override get message(): string {
    return `refusing allowed_origins "*" without a token: every web page could drive this daemon. ` +
      `Name the origins, or configure a token (${this.tokenHint}).`
  }
}

/**
 * Fails with `WildcardOriginRefused` when `*` is allowed and no token is configured.
 *
 * @category utils
 * @since 0.1.0
 */
export const ensureOriginsAllowed = (
  allowedOrigins: ReadonlyArray<string>,
  token: Option.Option<Redacted.Redacted<string>>,
  tokenHint: string
): Effect.Effect<void, WildcardOriginRefused> =>
  Option.isNone(token) && allowedOrigins.includes("*")
    ? Effect.fail(new WildcardOriginRefused({ tokenHint }))
    : Effect.void
