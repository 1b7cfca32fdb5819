/**
 * The package version, reported by `mock-engine --version`.
 *
 * @internal
 */
export const version = "0.0.0"
