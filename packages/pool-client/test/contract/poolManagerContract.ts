/**
 * The published `PoolManager` contract suite (`@llama-orch/pool-core/testing`) with the checks only
 * implementations that run engine processes can make: handoffs point at 127.0.0.1 and a real pid,
 * a failed reload carries the engine's stderr, and every engine the suite saw is gone afterwards.
 *
 * The layer under test must offer the engine profile `contractEngine` (see ../support/engine.ts):
 * the real mock engine, failing to start for models named `broken*`.
 */
import { afterAll, describe, expect } from "@effect/vitest"
import { Processes } from "@llama-orch/daemon-kit"
import type { ModelLoadFailed, PoolManager } from "@llama-orch/pool-core"
import { PoolManagerContract } from "@llama-orch/pool-core/testing"
import { Effect, type Layer } from "effect"
import { contractEngine } from "../support/engine.js"

/** Waits (bounded) until the pool's status satisfies `predicate`, watching `events`. */
export const awaitStatus = PoolManagerContract.awaitStatus

/** The catalog cases' engine args: a load the mock engine crashes halfway through, and a slow one. */
export const contractCatalogFixtures = {
  crashArgs: ["--crash-during-load", "--load-ms", "400"],
  slowArgs: ["--load-ms", "60000"]
}

/** The catalog options every layer under test is built with (see `PoolManagerContract.contractCatalog`). */
export const catalogOptions = PoolManagerContract.contractCatalog({
  engine: contractEngine,
  catalog: contractCatalogFixtures
})

/**
 * Registers the contract suite for `PoolManager` implementation `name` over real engine processes;
 * with `catalog` its model catalog cases too (the layer is built with `catalogOptions`).
 */
export const poolManagerContract = <E>(
  name: string,
  managerLayer: Layer.Layer<PoolManager, E>,
  options: { readonly catalog?: boolean } = {}
) =>
  describe(name, () => {
    const enginePids = new Set<number>()
    PoolManagerContract.suite(name, managerLayer, {
      engine: contractEngine,
      startupTimeoutMs: 60_000,
      // tests start real engines on a shared, busy machine
      timeout: 180_000,
      ...(options.catalog === true
        ? {
          catalog: {
            ...contractCatalogFixtures,
            onLoadFailed: (error: ModelLoadFailed) =>
              expect(error.stderrTail ?? "").toContain("simulated failure (--crash-during-load)")
          }
        }
        : {}),
      onHandoff: (handoff) => {
        expect(handoff.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+/)
        expect(handoff.pid).toBeGreaterThan(0)
        enginePids.add(handoff.pid)
      },
      onReloadFailed: (error) => expect(error.cause.stderrTail ?? "").toContain("simulated failure")
    })
    afterAll(() => Effect.runPromise(Processes.awaitGone(enginePids)))
  })
