/**
 * The package version, reported by `mock-engine --version`: read from the package's own
 * `package.json`, found by walking up from this module (works from src, dist and the source cache).
 *
 * @internal
 */
import * as CommandLine from "@llama-orch/daemon-kit/CommandLine"

/** The version of `@llama-orch/mock-engine`, or "0.0.0" when its package.json cannot be found. */
export const packageVersion = (): string => CommandLine.packageVersion(import.meta.url, "@llama-orch/mock-engine")
