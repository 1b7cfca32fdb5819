/**
 * The version of `pool-managerd`, read from its package manifest.
 *
 * @since 0.1.0
 */
import { CommandLine } from "@llama-orch/daemon-kit"

/**
 * The package version (`0.0.0` when the manifest cannot be read).
 *
 * @category utils
 * @since 0.1.0
 */
export const version: string = CommandLine.packageVersion(import.meta.url, "@llama-orch/pool-managerd")
