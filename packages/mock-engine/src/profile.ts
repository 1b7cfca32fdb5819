/**
 * A ready engine profile that runs the mock engine: what a pool manager (embedded, or pool-managerd's
 * `mock: true`) needs to spawn it, probe it and read its version.
 *
 * @since 0.1.0
 */
import { EngineProfile, type EngineProtocol } from "@llama-orch/pool-core"
import { mockEngineCommand, mockEngineProfileArgs } from "./engineCommand.js"

/**
 * Options of `mockEngineProfile`. Every field has a default.
 *
 * @category models
 * @since 0.1.0
 */
export interface MockEngineProfileOptions {
  /** The profile's name, which pool specs use as `engine` (default `mock`). */
  readonly name?: string | undefined
  /** The protocol the pool reports (default `llamacpp`; the mock engine speaks both). */
  readonly protocol?: EngineProtocol | undefined
  /** Extra mock-engine flags appended to the template, e.g. `["--tps", "50"]` or `["--load-ms", "200"]`. */
  readonly args?: ReadonlyArray<string> | undefined
  /** Extra environment variables (templates too), added to `LLAMA_API_KEY: "{api_key}"`. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** The health probe's path (default `/health`). */
  readonly healthPath?: string | undefined
  /** The arguments that print the version (default: the mock engine's `--version`). */
  readonly versionArgs?: ReadonlyArray<string> | undefined
}

/**
 * An `EngineProfile` running the mock engine with the current Node binary: the mock engine's
 * command, the `{host} {port} {model} {slots} {ctx}` template and `options.args`, a fresh API key per
 * engine through `LLAMA_API_KEY` (as llama-server reads it: out of the process list), `/health` and
 * `--version`.
 *
 * ```ts
 * const Pools = EmbeddedPoolManager.layer({ profiles: [mockEngineProfile()], stateDir })
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const mockEngineProfile = (options: MockEngineProfileOptions = {}): EngineProfile => {
  const mock = mockEngineCommand()
  return EngineProfile.make({
    name: options.name ?? "mock",
    protocol: options.protocol ?? "llamacpp",
    command: mock.command,
    args: [...mock.args, ...mockEngineProfileArgs, ...(options.args ?? [])],
    env: { LLAMA_API_KEY: "{api_key}", ...options.env },
    healthPath: options.healthPath ?? "/health",
    versionArgs: options.versionArgs ?? [...mock.args, "--version"]
  })
}
