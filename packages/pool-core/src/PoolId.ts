/**
 * Pool identifiers.
 *
 * A pool id names a pool everywhere: in the API, in metrics and as a file name under the state
 * directory. The pattern keeps it safe as a file name, so it is validated before any filesystem use.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The pattern every pool id matches: lower-case letters, digits, `.`, `_` and `-`, starting with a
 * letter or digit, at most 63 characters.
 *
 * @since 0.1.0
 */
export const PoolIdPattern: RegExp = /^[a-z0-9][a-z0-9._-]{0,62}$/

/**
 * A pool id (branded string).
 *
 * @since 0.1.0
 */
export const PoolId = Schema.String.pipe(
  Schema.pattern(PoolIdPattern, {
    message: () => "a pool id is 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
  }),
  Schema.brand("PoolId"),
  Schema.annotations({ identifier: "PoolId" })
)

/**
 * @since 0.1.0
 */
export type PoolId = typeof PoolId.Type
