/**
 * `GET /ui`: the live status page. Pools by node (state, generation, slots, restarts, last error),
 * queue depth per model and the recent tasks, all from the event streams `/v2/pools/events` and
 * `/v2/activity/events`, with drain, reload and preload buttons that call the control plane routes
 * like any client. The page and its script and style ship in the package (`ui/`); nothing is
 * inline and nothing comes from elsewhere, under a Content-Security-Policy that lets the page load
 * and talk to this daemon only. The page itself needs no token; `/ui/config.json` tells it whether
 * the API asks for one, so it asks the operator before its first request (and keeps the token in
 * the tab's `sessionStorage`).
 *
 * @since 0.1.0
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { fileURLToPath } from "node:url"
import { fileRoute, securityHeaders, textRoute } from "./internal/pageRoutes.js"
import { ServerSettings } from "./ServerSettings.js"

/**
 * The path of the page; its assets are under it.
 *
 * @since 0.1.0
 */
export const statusPath = "/ui"

/**
 * The Content-Security-Policy of the page and its assets: script, style, image and requests of
 * this origin only, no inline script or style.
 *
 * @since 0.1.0
 */
export const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join("; ")

/**
 * What `/ui/config.json` tells the page.
 *
 * @since 0.1.0
 */
export const PageConfig = Schema.Struct({
  token_required: Schema.Boolean.annotations({
    description: "Whether the API asks for a bearer token (the page asks the operator for it)."
  })
}).annotations({ identifier: "StatusPageConfig" })

/** The files of `ui/` the page loads, with their media types; `index.html` is the page. */
const assets = [
  ["index.html", "text/html; charset=utf-8"],
  ["app.js", "text/javascript; charset=utf-8"],
  ["app.css", "text/css; charset=utf-8"],
  ["icon.svg", "image/svg+xml"]
] as const

/**
 * Every path the page is served from: the page, its configuration and its assets.
 *
 * @since 0.1.0
 */
export const paths: ReadonlyArray<string> = [
  statusPath,
  `${statusPath}/config.json`,
  ...assets.flatMap(([file]) => file === "index.html" ? [] : [`${statusPath}/${file}`])
]

const headers = { ...securityHeaders(contentSecurityPolicy), "cache-control": "no-cache" }

/**
 * The routes of the page, its configuration and its assets.
 *
 * @since 0.1.0
 */
export const layer = Layer.unwrapEffect(Effect.gen(function*() {
  const { token } = yield* ServerSettings
  const ui = (file: string) => fileURLToPath(new URL(`../ui/${file}`, import.meta.url))
  const config = JSON.stringify(Schema.encodeSync(PageConfig)({ token_required: token !== undefined }))
  return HttpLayerRouter.addAll([
    textRoute(`${statusPath}/config.json`, config, "application/json", headers),
    ...assets.map(([file, contentType]) =>
      fileRoute(file === "index.html" ? statusPath : `${statusPath}/${file}`, ui(file), contentType, headers)
    )
  ])
}))
