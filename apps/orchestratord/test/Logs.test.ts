import { describe, expect, it } from "@effect/vitest"
import { Effect, HashMap, Layer, Logger } from "effect"
import * as FakeOrchestrator from "./fixtures/FakeOrchestrator.js"
import { baseUrl, serve } from "./fixtures/server.js"
import * as TestPools from "./fixtures/TestPools.js"

interface Logged {
  readonly message: string
  readonly annotations: Record<string, unknown>
}

const logged: Array<Logged> = []
const collect = Logger.replace(
  Logger.defaultLogger,
  Logger.make(({ annotations, message }) => {
    logged.push({
      message: String(Array.isArray(message) ? message[0] : message),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
)

const server = serve(Layer.merge(FakeOrchestrator.layer({ tokenDelayMs: 2 }), TestPools.layer)).pipe(
  Layer.provide(collect)
)

const preload = (correlationId: string) =>
  Effect.flatMap(
    baseUrl,
    (url) =>
      Effect.promise(() =>
        fetch(`${url}/v2/pools/mock-0/preload`, { method: "POST", headers: { "x-correlation-id": correlationId } })
      )
  )

describe("orchestratord logs", () => {
  it.live("a line logged while serving a request carries that request's correlation id, and only its own", () =>
    Effect.gen(function*() {
      const ids = Array.from({ length: 8 }, (_, i) => `corr-${i}`)
      const responses = yield* Effect.all(ids.map(preload), { concurrency: "unbounded" })
      expect(responses.map((r) => r.status)).toEqual(ids.map(() => 200))
      const lines = logged.filter((l) => l.message === "Pool preloaded through the control plane.")
      expect(lines.map((l) => l.annotations.correlation_id).sort()).toEqual(ids)
      for (const line of lines) expect(line.annotations).toMatchObject({ pool_id: "mock-0", engine: "mock" })
    }).pipe(Effect.provide(server)))
})
