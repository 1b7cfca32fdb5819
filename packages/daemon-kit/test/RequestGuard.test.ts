import { describe, expect, it } from "@effect/vitest"
import { RequestGuard } from "@llama-orch/daemon-kit"
import { Effect, Exit, FastCheck as fc, Option, Redacted, Schema } from "effect"

const loopback = RequestGuard.make({
  bindHost: "127.0.0.1",
  allowedHosts: ["llm.internal"],
  allowedOrigins: ["https://app.example"],
  bodyTypes: ["application/json"]
})

const decide = (method: string, headers: Record<string, string>) => loopback.decide({ method, headers })

const stateChanging = fc.constantFrom("POST", "PUT", "PATCH", "DELETE", "post")
const safe = fc.constantFrom("GET", "HEAD")
const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/)
/** Host names that are neither loopback nor configured. */
const foreignHost = fc.tuple(
  label,
  fc.constantFrom("example", "attacker.net", "localhost.evil.com", "127.0.0.1.nip.io")
)
  .map(([a, b]) => `${a}.${b}`)
const port = fc.integer({ min: 1, max: 65535 })

describe("RequestGuard", () => {
  it("serves loopback names and configured hosts on a loopback bind, with any port", () => {
    for (const host of ["localhost", "localhost:8080", "127.0.0.1:9200", "127.3.4.5", "[::1]:80", "LLM.internal:443"]) {
      expect(decide("GET", { host })._tag).toBe("Allowed")
    }
  })

  it("refuses every other Host on a loopback bind (DNS rebinding), and a missing one", () => {
    fc.assert(fc.property(foreignHost, port, fc.constantFrom("GET", "POST", "OPTIONS"), (name, p, method) => {
      const verdict = decide(method, { host: `${name}:${p}` })
      return verdict._tag === "Refused" && verdict.status === 403 && verdict.reason === "host"
    }))
    expect(decide("GET", {})).toMatchObject({ _tag: "Refused", reason: "host" })
  })

  it("beyond loopback, serves any Host unless allowed_hosts is set", () => {
    const open = RequestGuard.make({ bindHost: "0.0.0.0", allowedHosts: [], allowedOrigins: [], bodyTypes: [] })
    const listed = RequestGuard.make({
      bindHost: "0.0.0.0",
      allowedHosts: ["gpu-a"],
      allowedOrigins: [],
      bodyTypes: []
    })
    expect(open.decide({ method: "GET", headers: { host: "10.1.2.3:9200" } })._tag).toBe("Allowed")
    expect(listed.decide({ method: "GET", headers: { host: "10.1.2.3:9200" } })._tag).toBe("Refused")
    expect(listed.decide({ method: "GET", headers: { host: "gpu-a:9200" } })._tag).toBe("Allowed")
  })

  it("beyond loopback, lets a page served by the daemon change state from its own origin, and no other", () => {
    const open = RequestGuard.make({ bindHost: "0.0.0.0", allowedHosts: [], allowedOrigins: [], bodyTypes: [] })
    const post = (host: string, origin: string) => open.decide({ method: "POST", headers: { host, origin } })
    expect(post("gpu-box:8080", "http://gpu-box:8080")).toEqual({ _tag: "Allowed", corsOrigin: undefined })
    expect(post("10.1.2.3:8080", "http://10.1.2.3:8080")._tag).toBe("Allowed")
    expect(post("gpu-box", "https://gpu-box")._tag).toBe("Allowed")
    expect(post("gpu-box:8080", "http://evil.example")).toMatchObject({ _tag: "Refused", reason: "origin" })
    expect(post("gpu-box:8080", "http://gpu-box:3000")).toMatchObject({ _tag: "Refused", reason: "origin" })
  })

  it("refuses a state-changing request or a WebSocket upgrade from any foreign origin", () => {
    fc.assert(fc.property(
      stateChanging,
      foreignHost,
      fc.constantFrom("http", "https"),
      (method, name, scheme) => {
        const verdict = decide(method, {
          host: "127.0.0.1:8080",
          origin: `${scheme}://${name}`,
          "content-type": "application/json",
          "content-length": "2"
        })
        const upgrade = decide("GET", { host: "127.0.0.1:8080", origin: `${scheme}://${name}`, upgrade: "websocket" })
        return verdict._tag === "Refused" && verdict.reason === "origin" && upgrade._tag === "Refused"
      }
    ))
    expect(decide("POST", { host: "127.0.0.1:8080", origin: "null" })).toMatchObject({ reason: "origin" })
    // the same host on another port is another origin
    expect(decide("POST", { host: "127.0.0.1:8080", origin: "http://127.0.0.1:3000" })).toMatchObject({
      reason: "origin"
    })
  })

  it("lets a foreign page GET (the browser keeps the answer from it) but without CORS headers", () => {
    fc.assert(fc.property(safe, foreignHost, (method, name) => {
      const verdict = decide(method, { host: "127.0.0.1:8080", origin: `https://${name}` })
      return verdict._tag === "Allowed" && verdict.corsOrigin === undefined
    }))
  })

  it("allows no Origin (non-browser clients), the daemon's own origin and configured origins", () => {
    const json = { "content-type": "application/json", "content-length": "2" }
    expect(decide("POST", { host: "127.0.0.1:8080", ...json })).toEqual({ _tag: "Allowed", corsOrigin: undefined })
    expect(decide("POST", { host: "localhost:8080", origin: "http://localhost:8080", ...json })._tag).toBe("Allowed")
    expect(decide("POST", { host: "localhost", origin: "http://localhost", ...json })._tag).toBe("Allowed")
    expect(decide("POST", { host: "127.0.0.1:8080", origin: "https://app.example", ...json })).toEqual({
      _tag: "Allowed",
      corsOrigin: "https://app.example"
    })
  })

  it("answers a preflight only for configured origins", () => {
    const preflight = (origin: string) =>
      decide("OPTIONS", { host: "127.0.0.1:8080", origin, "access-control-request-method": "POST" })
    expect(preflight("https://app.example")).toEqual({ _tag: "Preflight", origin: "https://app.example" })
    expect(preflight("https://app.example:8443")).toMatchObject({ _tag: "Refused", status: 403 })
    expect(preflight("http://app.example")).toMatchObject({ _tag: "Refused", status: 403 })
  })

  it("accepts bodies only of the configured media types (415 otherwise), whatever else the request says", () => {
    fc.assert(fc.property(
      stateChanging,
      fc.constantFrom(
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        ""
      ),
      fc.constantFrom({ "content-length": "10" }, { "transfer-encoding": "chunked" }),
      (method, type, framing) => {
        const headers: Record<string, string> = { host: "localhost:1", ...framing }
        if (type !== "") headers["content-type"] = type
        const verdict = decide(method, headers)
        return verdict._tag === "Refused" && verdict.status === 415
      }
    ))
    expect(
      decide("POST", { host: "localhost", "content-type": "Application/JSON; charset=utf-8", "content-length": "2" })
    )
      .toMatchObject({ _tag: "Allowed" })
    // a body-less POST (cancel, preload) needs no content type
    expect(decide("POST", { host: "localhost", "content-length": "0" })._tag).toBe("Allowed")
    expect(decide("POST", { host: "localhost" })._tag).toBe("Allowed")
  })

  it("validates configured origins and hosts", () => {
    const origins = Schema.decodeUnknownEither(Schema.Array(RequestGuard.AllowedOrigin))
    expect(origins(["https://app.example", "http://127.0.0.1:3000", "*"])._tag).toBe("Right")
    for (const bad of ["app.example", "https://app.example/", "https://app.example/ui", "ftp://x", "https://u:p@x"]) {
      expect(origins([bad])._tag).toBe("Left")
    }
    const hosts = Schema.decodeUnknownEither(Schema.Array(RequestGuard.AllowedHost))
    expect(hosts(["llm.internal", "gpu-a", "[fd00::1]"])._tag).toBe("Right")
    for (const bad of ["llm.internal:8080", "http://x", "a b", ""]) expect(hosts([bad])._tag).toBe("Left")
  })

  it.effect("refuses allowed_origins '*' without a token", () =>
    Effect.gen(function*() {
      const refused = yield* Effect.exit(RequestGuard.ensureOriginsAllowed(["*"], Option.none(), "token"))
      expect(Exit.isFailure(refused)).toBe(true)
      yield* RequestGuard.ensureOriginsAllowed(["*"], Option.some(Redacted.make("t")), "token")
      yield* RequestGuard.ensureOriginsAllowed(["https://app.example"], Option.none(), "token")
    }))
})
