/**
 * Running the engine from TypeScript sources without a loader hook: `src/bin.ts` and everything it
 * imports are bundled once (per content hash of the sources, the manifest and the lockfile) with
 * esbuild into `node_modules/.cache/mock-engine/<hash>/bin.js` and run with plain Node. One bundled
 * file starts about three times faster than ~900 separately loaded modules, and far faster than
 * Node 20's off-thread loader hooks (tsx); the engine is spawned many times in tests.
 *
 * @internal
 */
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"

/** Entries of older sources are removed once they are this old (engines started from them keep running). */
const staleAfterMs = 60 * 60 * 1000

/** The part of esbuild's API used here (esbuild is a development dependency, loaded only in the workspace). */
interface EsbuildLike {
  readonly buildSync: (options: Record<string, unknown>) => unknown
}

const isEsbuild = (u: unknown): u is EsbuildLike =>
  typeof u === "object" && u !== null && "buildSync" in u && typeof u.buildSync === "function"

const pruneStale = (cacheDir: string, keep: string): void => {
  const now = Date.now()
  for (const entry of fs.readdirSync(cacheDir)) {
    const dir = path.join(cacheDir, entry)
    if (dir !== keep && now - fs.statSync(dir).mtimeMs > staleAfterMs) fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** The nearest `pnpm-lock.yaml` above `dir`, whose content pins the bundled dependencies. */
const findLockfile = (dir: string): string | undefined => {
  for (let current = dir;; current = path.dirname(current)) {
    const candidate = path.join(current, "pnpm-lock.yaml")
    if (fs.existsSync(candidate)) return candidate
    if (path.dirname(current) === current) return undefined
  }
}

const hashSources = (hash: ReturnType<typeof createHash>, srcDir: string): void => {
  const files = fs.readdirSync(srcDir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts")).sort()
  for (const file of files) {
    hash.update(file).update("\0").update(fs.readFileSync(path.join(srcDir, file))).update("\0")
  }
}

const Manifest = Schema.parseJson(Schema.Struct({
  dependencies: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), {
    default: () => ({})
  })
}))

/** The source directories of the workspace packages (`workspace:` dependencies) the bundle takes in. */
const workspaceSourceDirs = (packageDir: string): ReadonlyArray<string> => {
  const manifest = Schema.decodeUnknownSync(Manifest)(fs.readFileSync(path.join(packageDir, "package.json"), "utf8"))
  return Object.entries(manifest.dependencies)
    .filter(([, version]) => version.startsWith("workspace:"))
    .map(([name]) => path.join(fs.realpathSync(path.join(packageDir, "node_modules", name)), "src"))
    .sort()
}

/** Bundles `srcDir/bin.ts` (unless already cached) and returns the path of the cached `bin.js`, or undefined. */
export const cachedBin = (srcDir: string, packageDir: string): string | undefined => {
  try {
    const hash = createHash("sha256")
    for (const dir of [srcDir, ...workspaceSourceDirs(packageDir)]) {
      hashSources(hash.update(path.relative(packageDir, dir)).update("\0"), dir)
    }
    const lockfile = findLockfile(packageDir)
    for (const extra of [path.join(packageDir, "package.json"), lockfile]) {
      if (extra !== undefined) hash.update(fs.readFileSync(extra)).update("\0")
    }
    hash.update(process.version)
    const outDir = path.join(packageDir, "node_modules", ".cache", "mock-engine", hash.digest("hex").slice(0, 16))
    const bin = path.join(outDir, "bin.js")
    if (fs.existsSync(bin)) return bin
    const esbuild: unknown = createRequire(path.join(packageDir, "package.json"))("esbuild")
    if (!isEsbuild(esbuild)) return undefined
    const tmpDir = `${outDir}.tmp-${process.pid}-${Date.now()}`
    esbuild.buildSync({
      entryPoints: [path.join(srcDir, "bin.ts")],
      outfile: path.join(tmpDir, "bin.js"),
      bundle: true,
      platform: "node",
      format: "esm",
      target: `node${process.versions.node.split(".")[0]}`,
      conditions: ["@llama-orch/source"],
      logLevel: "silent",
      // Bundled CommonJS dependencies may `require` Node's built-in modules.
      banner: {
        js:
          "import { createRequire as __createRequire } from \"node:module\"; const require = __createRequire(import.meta.url);"
      }
    })
    // Outside the package scope (node_modules), so say that the bundle is an ES module.
    fs.writeFileSync(path.join(tmpDir, "package.json"), JSON.stringify({ type: "module" }))
    try {
      fs.renameSync(tmpDir, outDir)
    } catch {
      // Another process published the same hash first.
      fs.rmSync(tmpDir, { recursive: true, force: true })
    }
    pruneStale(path.dirname(outDir), outDir)
    return fs.existsSync(bin) ? bin : undefined
  } catch {
    return undefined
  }
}
