/**
 * Routes that serve a static page or file (the API docs, the status page) with their security
 * headers.
 *
 * @internal
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import type * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"

/** The headers of a page served by the daemon and of its assets, under `contentSecurityPolicy`. */
export const securityHeaders = (contentSecurityPolicy: string): Record<string, string> => ({
  "content-security-policy": contentSecurityPolicy,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer"
})

/** `GET urlPath` answering `body` as `contentType`, with `headers`. */
export const textRoute = (
  urlPath: HttpRouter.PathInput,
  body: string,
  contentType: string,
  headers: Record<string, string>
) => HttpLayerRouter.route("GET", urlPath, Effect.succeed(HttpServerResponse.text(body, { contentType, headers })))

/** `GET urlPath` answering the file at `filePath` as `contentType`, with `headers`. */
export const fileRoute = (
  urlPath: HttpRouter.PathInput,
  filePath: string,
  contentType: string,
  headers: Record<string, string>
) =>
  HttpLayerRouter.route(
    "GET",
    urlPath,
    HttpServerResponse.file(filePath, { headers: { "content-type": contentType } }).pipe(
      Effect.map(HttpServerResponse.setHeaders(headers))
    )
  )
