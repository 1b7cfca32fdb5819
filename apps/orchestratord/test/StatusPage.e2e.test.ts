/**
 * The status page `/ui` in a real browser (headless Chromium) against orchestratord as a process
 * with a token and two mock-engine pools: the page asks for the token, loads with no console error
 * and no request beyond the daemon, shows a pool's change made through the API within a second,
 * drains and preloads pools through the control plane, and has no serious accessibility violation
 * (axe-core). Screenshots go to test/artifacts/.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Context, Effect, Layer, Schedule, Schema } from "effect"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import type { Browser, Page } from "puppeteer-core"
import { launchBrowser } from "./fixtures/browser.js"
import { spawnWithConfig } from "./fixtures/daemon.js"
import { waitOk } from "./fixtures/processes.js"
import { rawRequest } from "./fixtures/rawHttp.js"

const token = "status-page-secret"
const artifacts = fileURLToPath(new URL("./artifacts/", import.meta.url))
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8")

class Setup extends Context.Tag("test/Setup")<Setup, { readonly url: string; readonly browser: Browser }>() {}

const SetupLive = Layer.scoped(
  Setup,
  Effect.gen(function*() {
    const [daemon, browser] = yield* Effect.all([
      spawnWithConfig([
        `token: ${token}`,
        "engines: [{ name: mock, mock: true }]",
        "pools:",
        "  - { id: gpu-0, engine: mock, model: mock-model, slots: 2 }",
        "  - { id: gpu-1, engine: mock, model: mock-model, slots: 2 }"
      ]),
      launchBrowser
    ], { concurrency: 2 })
    yield* waitOk(`${daemon.url}/ready`)
    fs.mkdirSync(artifacts, { recursive: true })
    return { url: daemon.url, browser }
  })
).pipe(Layer.provide(NodeContext.layer))

const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" }

const api = (url: string, method: "GET" | "POST", body?: unknown) =>
  Effect.promise(() =>
    fetch(url, { method, headers: auth, ...(body === undefined ? {} : { body: JSON.stringify(body) }) }).then(
      async (r) => ({ status: r.status, body: (await r.json()) as unknown })
    )
  )

const Health = Schema.Struct({ state: Schema.String, draining: Schema.Boolean })
const health = (url: string, pool: string) =>
  api(`${url}/v2/pools/${pool}/health`, "GET").pipe(Effect.map((r) => Schema.decodeUnknownSync(Health)(r.body)))

/** Waits (polling the API, never sleeping a fixed time) until `check` holds for the pool. */
const waitPool = (url: string, pool: string, check: (h: typeof Health.Type) => boolean) =>
  health(url, pool).pipe(
    Effect.filterOrFail(check),
    Effect.retry(Schedule.spaced("25 millis").pipe(Schedule.upTo("15 seconds"))),
    Effect.orDie
  )

/** The state shown in the page's row of `pool`. */
const shownState = (page: Page, pool: string) =>
  Effect.promise(() => page.$eval(`tr[data-pool="${pool}"] .state`, (e) => e.textContent ?? ""))

/** Waits until the page's script expression `condition` holds, checking at each change of the page. */
const waitFor = (page: Page, condition: string, timeout: number) =>
  Effect.promise(() => page.waitForFunction(condition, { timeout, polling: "mutation" }))

const waitShown = (page: Page, pool: string, states: ReadonlyArray<string>, timeout: number) =>
  waitFor(
    page,
    `${JSON.stringify(states)}.includes(document.querySelector('tr[data-pool="${pool}"] .state')?.textContent)`,
    timeout
  )

const Violations = Schema.Array(Schema.Struct({ id: Schema.String, impact: Schema.NullOr(Schema.String) }))

layer(SetupLive, { excludeTestServices: true, timeout: 60_000 })("the status page /ui", (it) => {
  it.effect("is served without the token, under a strict CSP, and tells the page a token is needed", () =>
    Effect.gen(function*() {
      const { url } = yield* Setup
      const page = yield* Effect.promise(() => fetch(`${url}/ui`))
      expect(page.status).toBe(200)
      const csp = page.headers.get("content-security-policy") ?? ""
      expect(csp).toContain("script-src 'self'")
      expect(csp).not.toContain("unsafe-inline")
      expect(csp).toContain("connect-src 'self'")
      const html = yield* Effect.promise(() => page.text())
      // no inline script: every script is a file of the daemon
      expect(html.match(/<script[^>]*>/g)).toEqual([`<script type="module" src="/ui/app.js">`])
      const config = yield* Effect.promise(() => fetch(`${url}/ui/config.json`).then((r) => r.json()))
      expect(config).toEqual({ token_required: true })
      // the data stays behind the token
      expect((yield* Effect.promise(() => fetch(`${url}/v2/activity/events`))).status).toBe(401)
      // another origin is still refused on the control plane, token or not
      const foreign = yield* rawRequest(`${url}/v2/pools/gpu-0/drain`, {
        method: "POST",
        headers: { host: new URL(url).host, origin: "http://evil.example", ...auth },
        body: JSON.stringify({ deadline_ms: 0 })
      })
      expect(foreign.status).toBe(403)
    }))

  it.scoped("shows pools and tasks live, and drains and preloads pools from the page", () =>
    Effect.gen(function*() {
      const { browser, url } = yield* Setup
      const page = yield* Effect.acquireRelease(
        Effect.promise(() => browser.newPage()),
        (p) => Effect.promise(() => p.close())
      )
      yield* Effect.promise(() => page.setViewport({ width: 1280, height: 800 }))
      const problems: Array<string> = []
      const requests: Array<string> = []
      page.on("console", (message) => {
        if (message.type() === "error" || message.type() === "warn") problems.push(message.text())
      })
      page.on("pageerror", (error) => problems.push(String(error)))
      page.on("request", (request) => requests.push(request.url()))

      yield* Effect.promise(() => page.goto(`${url}/ui`, { waitUntil: "load" }))
      // a token is configured: the page asks for it before its first request to the API
      yield* Effect.promise(() => page.waitForSelector("#token-form:not([hidden])", { timeout: 5_000 }))
      yield* Effect.promise(() => page.type("#token", token))
      yield* Effect.promise(() => page.click("#token-form button[type=submit]"))
      yield* Effect.promise(() => page.waitForSelector("#connection.live", { timeout: 5_000 }))
      yield* waitShown(page, "gpu-0", ["Ready"], 10_000)
      yield* waitShown(page, "gpu-1", ["Ready"], 10_000)

      // tasks through the API appear in the recent tasks, ended, with their time to first token
      const taskIds = yield* Effect.forEach([4, 12, 24], (maxTokens) =>
        api(`${url}/v2/tasks`, "POST", { model_ref: "mock-model", prompt: "hi", max_tokens: maxTokens }).pipe(
          Effect.map((r) =>
            Schema.decodeUnknownSync(Schema.Struct({ task_id: Schema.String }))(r.body).task_id
          )
        ), { concurrency: 3 })
      for (const taskId of taskIds) {
        yield* waitFor(
          page,
          `(() => { const cells = document.querySelectorAll('tr[data-task="${taskId}"] td'); ` +
            `return cells[2]?.textContent === "completed" && /[0-9]/.test(cells[3]?.textContent ?? "") })()`,
          5_000
        )
      }
      const queued = yield* Effect.promise(() =>
        page.$eval(`tr[data-model="mock-model"] td`, (e) => e.textContent ?? "")
      )
      expect(queued).toBe("0")

      // a change made through the API shows within a second, without a reload
      const drained = yield* api(`${url}/v2/pools/gpu-1/drain`, "POST", { deadline_ms: 1_000 })
      expect(drained.status).toBe(202)
      yield* waitShown(page, "gpu-1", ["Draining", "Stopped"], 1_000)
      yield* waitShown(page, "gpu-1", ["Stopped"], 10_000)

      // the page's own buttons go through the control plane: drain gpu-0, preload gpu-1 again
      yield* Effect.promise(() => page.click(`tr[data-pool="gpu-0"] button[data-action="drain"]`))
      yield* waitPool(url, "gpu-0", (h) => h.draining || h.state === "Stopped")
      yield* waitShown(page, "gpu-0", ["Draining", "Stopped"], 2_000)
      yield* Effect.promise(() => page.click(`tr[data-pool="gpu-1"] button[data-action="preload"]`))
      yield* waitPool(url, "gpu-1", (h) => h.state === "Ready")
      yield* waitShown(page, "gpu-1", ["Ready"], 2_000)
      expect(yield* shownState(page, "gpu-1")).toBe("Ready")
      yield* waitFor(page, `/preload gpu-1: done/.test(document.querySelector("#notice").textContent)`, 5_000)

      yield* Effect.promise(() => page.screenshot({ path: `${artifacts}/status-page.png`, fullPage: true }))

      // axe-core, evaluated over the DevTools protocol (the page's CSP admits no inline script)
      yield* Effect.promise(() => page.evaluate(axeSource))
      const violations = Schema.decodeUnknownSync(Violations)(
        yield* Effect.promise(() =>
          page.evaluate(
            "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact })))"
          )
        )
      )
      expect(violations.filter((v) => v.impact === "serious" || v.impact === "critical")).toEqual([])

      expect(problems).toEqual([])
      expect(requests.filter((r) => !r.startsWith(`${url}/`))).toEqual([])
    }))
})
