/**
 * The published contract suite against the in-memory manager and against the embedded manager (the
 * reference implementation, running the fast fake engine): the same assertions pass on both, so
 * the suite is the contract and the in-memory manager keeps it.
 */
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { afterAll, describe, expect } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { EmbeddedPoolManager, type ModelLoadFailed } from "../../src/index.js"
import { InMemoryPoolManager, PoolManagerContract } from "../../src/testing.js"
import { alive, awaitGone, fakeProfile } from "../support/harness.js"

const inMemoryCatalog = { engine: "mock", catalog: {} }

PoolManagerContract.suite(
  "in-memory",
  InMemoryPoolManager.layer({
    engines: [{ name: "mock" }],
    failingModels: ["broken-model"],
    ...PoolManagerContract.contractCatalog(inMemoryCatalog)
  }),
  {
    ...inMemoryCatalog,
    forcedDrainDeadlineMs: 300,
    onHandoff: (handoff) => expect(handoff.pid).toBe(0),
    onReloadFailed: (error) => expect(error.cause.stderrTail).toContain("broken-model")
  }
)

describe("the contract on the embedded manager", () => {
  const enginePids = new Set<number>()
  const fixtures = {
    engine: "fake",
    failingModel: "broken",
    catalog: {
      slowArgs: ["--load-ms", "60000"],
      onLoadFailed: (error: ModelLoadFailed) => expect(error.stderrTail).toContain("failed to load model")
    }
  }
  const embedded = Layer.unwrapScoped(
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "pool-core-contract-" })
      return EmbeddedPoolManager.layer({
        profiles: [fakeProfile("fake", ["--fail-model", "broken"])],
        stateDir,
        stopGraceMs: 2_000,
        shutdownDeadlineMs: 2_000,
        ...PoolManagerContract.contractCatalog(fixtures)
      })
    })
  ).pipe(
    Layer.provide([NodeContext.layer, NodeHttpClient.layerUndici, Logger.minimumLogLevel(LogLevel.Error)])
  )

  PoolManagerContract.suite("embedded", embedded, {
    ...fixtures,
    startupTimeoutMs: 60_000,
    timeout: 120_000,
    onHandoff: (handoff) => {
      expect(handoff.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(handoff.pid).toBeGreaterThan(0)
      enginePids.add(handoff.pid)
    },
    onReloadFailed: (error) => expect(error.cause.stderrTail).toContain("failed to load model")
  })

  afterAll(() =>
    Effect.runPromise(Effect.gen(function*() {
      expect(enginePids.size).toBeGreaterThan(0)
      for (const pid of enginePids) expect(yield* awaitGone(pid), `engine ${pid} is gone`).toBe(true)
      expect([...enginePids].filter(alive)).toEqual([])
    }))
  )
})
