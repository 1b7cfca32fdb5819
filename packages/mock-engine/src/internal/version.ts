/**
 * The package version, reported by `mock-engine --version`: read from the package's own
 * `package.json`, found by walking up from this module (works from src, dist and the source cache).
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const PackageJson = Schema.parseJson(Schema.Struct({ name: Schema.String, version: Schema.String }))
const decodePackageJson = Schema.decodeUnknownEither(PackageJson)

/** The version of `@llama-orch/mock-engine`, or "0.0.0" when its package.json cannot be found. */
export const packageVersion = (): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const file = path.join(dir, "package.json")
    if (fs.existsSync(file)) {
      const parsed = decodePackageJson(fs.readFileSync(file, "utf8"))
      if (Either.isRight(parsed) && parsed.right.name === "@llama-orch/mock-engine") return parsed.right.version
    }
    const parent = path.dirname(dir)
    if (parent === dir) return "0.0.0"
    dir = parent
  }
}
