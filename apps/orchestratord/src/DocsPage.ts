/**
 * `GET /docs`: Swagger UI over `/openapi.json`, served from the files of the `swagger-ui-dist`
 * package itself (no CDN, nothing inline), under a Content-Security-Policy that lets the page load
 * only this daemon's scripts and talk only to this daemon.
 *
 * @since 0.1.0
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileRoute, securityHeaders as headersOf, textRoute } from "./internal/pageRoutes.js"

/**
 * The path of the page; its assets are under it.
 *
 * @since 0.1.0
 */
export const docsPath = "/docs"

/**
 * The Content-Security-Policy of the page and its assets: scripts, styles, images and requests of
 * this origin only (Swagger UI sets inline styles and uses `data:` images).
 *
 * @since 0.1.0
 */
export const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join("; ")

const securityHeaders = headersOf(contentSecurityPolicy)

/** The files of `swagger-ui-dist` the page loads, with their media types. */
const assets = [
  ["swagger-ui.css", "text/css; charset=utf-8"],
  ["swagger-ui-bundle.js", "text/javascript; charset=utf-8"],
  ["favicon-32x32.png", "image/png"]
] as const

/**
 * Every path the page is served from: the page, its initializer and its assets.
 *
 * @since 0.1.0
 */
export const paths: ReadonlyArray<string> = [
  docsPath,
  `${docsPath}/init.js`,
  ...assets.map(([file]) => `${docsPath}/${file}`)
]

const page = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>orchestratord HTTP API</title>
  <link rel="stylesheet" href="${docsPath}/swagger-ui.css" />
  <link rel="icon" type="image/png" href="${docsPath}/favicon-32x32.png" />
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${docsPath}/swagger-ui-bundle.js"></script>
  <script src="${docsPath}/init.js"></script>
</body>
</html>
`

// no validator badge: it would send the document to a third party
const init = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null
})
`

/**
 * The routes of the page and its assets.
 *
 * @since 0.1.0
 */
export const layer = Layer.unwrapEffect(Effect.sync(() => {
  const dist = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"))
  return HttpLayerRouter.addAll([
    textRoute(docsPath, page, "text/html; charset=utf-8", securityHeaders),
    textRoute(`${docsPath}/init.js`, init, "text/javascript; charset=utf-8", securityHeaders),
    ...assets.map(([file, contentType]) =>
      fileRoute(`${docsPath}/${file}`, path.join(dist, file), contentType, securityHeaders)
    )
  ])
}))
