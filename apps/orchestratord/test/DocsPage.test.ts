/**
 * `/docs` serves Swagger UI from the package's own files: the page references only assets of the
 * daemon itself, each of them answers 200 with its media type, nothing asks for the token (the
 * page must load before anyone types one), and the CSP lets the page run only this origin's code.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as FakeOrchestrator from "./fixtures/FakeOrchestrator.js"
import * as FakePoolManager from "./fixtures/FakePoolManager.js"
import { baseUrl, serve } from "./fixtures/server.js"

const server = serve(Layer.merge(FakeOrchestrator.layer(), FakePoolManager.layer), { token: Redacted.make("s3cret") })

const get = (path: string) =>
  Effect.flatMap(baseUrl, (url) =>
    Effect.promise(async () => {
      const response = await fetch(`${url}${path}`)
      return { response, text: await response.text() }
    }))

/** The `src` and `href` of a page's elements. */
const references = (html: string): ReadonlyArray<string> =>
  [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].flatMap((m) => (m[1] === undefined ? [] : [m[1]]))

describe("/docs", () => {
  layer(server, { excludeTestServices: true })("Swagger UI", (it) => {
    it.effect("answers HTML that references only the daemon's own assets, under a CSP of this origin", () =>
      Effect.gen(function*() {
        const { response, text } = yield* get("/docs")
        expect(response.status).toBe(200)
        expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8")
        const csp = response.headers.get("content-security-policy") ?? ""
        expect(csp).toContain("default-src 'none'")
        expect(csp).toContain("script-src 'self';")
        expect(csp).toContain("connect-src 'self'")
        expect(text).not.toMatch(/<script>|<style>|\son\w+=/)
        const assets = references(text)
        expect(assets).toEqual(expect.arrayContaining(["/docs/swagger-ui-bundle.js", "/docs/init.js"]))
        // same origin: a path, not a URL of somewhere else
        expect(assets.filter((a) => !/^\/[^/]/.test(a))).toEqual([])
      }))

    it.effect("its assets answer 200 with their media types, without the token", () =>
      Effect.gen(function*() {
        const { text } = yield* get("/docs")
        const types: Record<string, string> = {
          css: "text/css; charset=utf-8",
          js: "text/javascript; charset=utf-8",
          png: "image/png"
        }
        for (const asset of references(text)) {
          const { response, text: body } = yield* get(asset)
          expect([asset, response.status]).toEqual([asset, 200])
          expect(response.headers.get("content-type")).toBe(types[asset.split(".").at(-1) ?? ""])
          expect(body.length).toBeGreaterThan(0)
        }
        const bundle = yield* get("/docs/swagger-ui-bundle.js")
        expect(bundle.text).toContain("SwaggerUIBundle")
        expect(bundle.text.length).toBeGreaterThan(500_000)
      }))

    it.effect("the page loads the document from the daemon, which answers it without the token", () =>
      Effect.gen(function*() {
        const { text } = yield* get("/docs/init.js")
        expect(text).toContain(`url: "/openapi.json"`)
        expect(text).toContain("validatorUrl: null")
        expect(text).not.toMatch(/https?:\/\//)
        const { response, text: document } = yield* get("/openapi.json")
        expect(response.status).toBe(200)
        expect(JSON.parse(document)).toMatchObject({ openapi: "3.1.0", info: { title: "llama-orch orchestratord" } })
        // the API itself still asks for it
        expect((yield* get("/v2/pools")).response.status).toBe(401)
        expect((yield* get("/docs/nothing.js")).response.status).toBe(401)
      }))
  })
})
