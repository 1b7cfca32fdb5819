import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import { DaemonMain } from "@llama-orch/daemon-kit"
import { Effect, Option } from "effect"

/** Serves one request on 127.0.0.1 whose handler answers whether it runs inside a span. */
const spanSeenByHandler = Effect.gen(function*() {
  yield* HttpServer.serveEffect(
    Effect.map(
      Effect.option(Effect.currentSpan),
      (span) => HttpServerResponse.text(Option.isSome(span) ? "span" : "none")
    )
  )
  const client = yield* HttpClient.HttpClient
  return yield* client.get("/").pipe(Effect.flatMap((response) => response.text))
}).pipe(Effect.scoped, Effect.provide(NodeHttpServer.layerTest))

describe("DaemonMain.withoutTracing", () => {
  it.live("no span is recorded for a served request (the platform records one per request by default)", () =>
    Effect.gen(function*() {
      expect(yield* spanSeenByHandler).toBe("span")
      expect(yield* DaemonMain.withoutTracing(spanSeenByHandler)).toBe("none")
    }))
})
