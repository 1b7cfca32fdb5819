/**
 * Pool identifiers.
 *
 * A pool id names a pool everywhere: in the API, in metrics and as a file name under the state
 * directory. The pattern keeps it safe as a file name, so it is validated before any filesystem use.
 *
 * Over several pool managers (`MultiPoolManager`) a pool id is qualified by its node:
 * `node/pool`, e.g. `gpu-a/qwen`. Only the pool managers' own ids name files, and a `PoolSpec`
 * refuses a qualified id.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The pattern every pool id matches: lower-case letters, digits, `.`, `_` and `-`, starting with a
 * letter or digit, at most 63 characters.
 *
 * @category utils
 * @since 0.1.0
 */
export const PoolIdPattern: RegExp = /^[a-z0-9][a-z0-9._-]{0,62}$/

/**
 * The pattern of a pool id, or of a node-qualified one (`node/pool`, both parts as `PoolIdPattern`).
 *
 * @category utils
 * @since 0.1.0
 */
export const QualifiedPoolIdPattern: RegExp = /^(?:[a-z0-9][a-z0-9._-]{0,62}\/)?[a-z0-9][a-z0-9._-]{0,62}$/

/**
 * A pool id (branded string): a pool manager's own id, or a node-qualified one (`node/pool`).
 *
 * @category schemas
 * @since 0.1.0
 */
export const PoolId = Schema.String.pipe(
  Schema.pattern(QualifiedPoolIdPattern, {
    message: () =>
      "a pool id is 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit, " +
      "optionally after a node name and '/'"
  }),
  Schema.brand("PoolId"),
  Schema.annotations({ identifier: "PoolId" })
)

/**
 * A value of the `PoolId` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type PoolId = typeof PoolId.Type

/**
 * A pool manager's own pool id, never node-qualified: what a `PoolSpec` names and what names files
 * under the state directory. The same branded type as `PoolId`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const LocalPoolId = Schema.String.pipe(
  Schema.pattern(PoolIdPattern, {
    message: () => "a pool id is 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
  }),
  Schema.brand("PoolId"),
  Schema.annotations({ identifier: "LocalPoolId" })
)

/**
 * Splits a node-qualified pool id: `gpu-a/qwen` → `{ node: "gpu-a", local: "qwen" }`; an
 * unqualified id has no node.
 *
 * @category utils
 * @since 0.1.0
 */
export const splitPoolId = (id: string): { readonly node: string | undefined; readonly local: string } => {
  const slash = id.indexOf("/")
  return slash < 0 ? { node: undefined, local: id } : { node: id.slice(0, slash), local: id.slice(slash + 1) }
}
