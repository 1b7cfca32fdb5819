/**
 * @llama-orch/pool-core/testing: what a tool built on the `PoolManager` tag needs to test itself
 * without processes — an in-memory `PoolManager` with scripted engines, and the contract suite any
 * `PoolManager` implementation must pass.
 *
 * This entry imports `@effect/vitest` (and so `vitest`): optional peer dependencies of pool-core,
 * needed only here.
 *
 * @module @llama-orch/pool-core/testing
 * @since 0.1.0
 */

/**
 * The in-memory `PoolManager`: `InMemoryPoolManager.layer(options)` provides `PoolManager` and its
 * `Control` (`fail`, `setState`, `failStarts`); works under `it.effect` and the `TestClock`.
 */
export * as InMemoryPoolManager from "./InMemoryPoolManager.js"

/** The `PoolManager` contract as an @effect/vitest suite: `PoolManagerContract.suite(name, layer, fixtures)`. */
export * as PoolManagerContract from "./PoolManagerContract.js"
