/**
 * What a daemon changes in its own embedded pool manager when its configuration file is reloaded:
 * the engine profiles pools may be registered with, and a note on a pool's event stream. Remote
 * callers never reach it (it is not part of `PoolManager` nor of the RPC): profiles stay the
 * operator's.
 *
 * ```ts
 * const configurator = yield* PoolConfigurator
 * yield* configurator.setProfiles(newProfiles) // later registrations use them
 * yield* configurator.announce(poolId, "config-reload:restart")
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { EngineProfile } from "./EngineProfile.js"
import type { PoolNotFound } from "./PoolErrors.js"
import type { PoolId } from "./PoolId.js"

/**
 * The operations of `PoolConfigurator`.
 *
 * @category models
 * @since 0.1.0
 */
export interface PoolConfiguratorService {
  /** The engine profiles pools may be registered with now. */
  readonly profiles: Effect.Effect<ReadonlyArray<EngineProfile>>
  /**
   * Replaces the profiles. Pools already registered keep the profile they were registered with
   * until they are removed; a changed profile's engine version is detected again.
   */
  readonly setProfiles: (profiles: ReadonlyArray<EngineProfile>) => Effect.Effect<void>
  /** Publishes the pool's current status as a `StatusChanged` with `reason` (for example a reload step). */
  readonly announce: (poolId: PoolId, reason: string) => Effect.Effect<void, PoolNotFound>
}

/**
 * The tag of the embedded manager's configurator (`EmbeddedPoolManager.layer` provides it).
 *
 * @example
 * ```ts
 * import { NodeContext, NodeHttpClient, NodeRuntime } from "@effect/platform-node"
 * import { EmbeddedPoolManager, EngineProfile, PoolConfigurator } from "@llama-orch/pool-core"
 * import { Console, Effect, Layer } from "effect"
 *
 * const llamaServer = (command: string) =>
 *   new EngineProfile({ name: "llamacpp", protocol: "llamacpp", command, args: ["-m", "{model}", "--port", "{port}"] })
 *
 * // a configuration reload moved llama-server: pools registered from now on start the new binary
 * const program = Effect.gen(function*() {
 *   const configurator = yield* PoolConfigurator
 *   yield* configurator.setProfiles([llamaServer("/opt/llama.cpp/bin/llama-server")])
 *   yield* Console.log((yield* configurator.profiles).map((p) => p.command))
 * })
 *
 * program.pipe(
 *   Effect.provide(EmbeddedPoolManager.layer({ profiles: [llamaServer("/usr/local/bin/llama-server")], stateDir: "./.state/reload" })),
 *   Effect.provide(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)),
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class PoolConfigurator extends Context.Tag("@llama-orch/pool-core/PoolConfigurator")<
  PoolConfigurator,
  PoolConfiguratorService
>() {}
