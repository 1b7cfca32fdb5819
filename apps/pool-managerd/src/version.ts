/**
 * The version of `pool-managerd`, read from its package manifest.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { createRequire } from "node:module"

const readManifest = (): unknown => {
  try {
    return createRequire(import.meta.url)("../package.json")
  } catch {
    return {}
  }
}

/**
 * The package version (`0.0.0` when the manifest cannot be read).
 *
 * @since 0.1.0
 */
export const version: string = Either.match(
  Schema.decodeUnknownEither(Schema.Struct({ version: Schema.String }))(readManifest()),
  { onLeft: () => "0.0.0", onRight: (manifest) => manifest.version }
)
