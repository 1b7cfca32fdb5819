/**
 * Running a TypeScript entry point without a loader hook: the entry and everything it imports
 * (workspace packages by their sources) are bundled with esbuild, when it is installed, into
 * `node_modules/.cache/source-bundle/` of the entry's package, to be run with plain Node. A bundle
 * starts several times faster than the sources through `tsx`, and tests start daemons and engines
 * many times. A bundle is reused while every source file it was built from (outside
 * `node_modules`), the lockfile and the Node version are unchanged.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { pathToFileURL } from "node:url"

/** Bundles of older sources are removed once they are this old (processes started from them keep running). */
const staleAfterMs = 60 * 60 * 1000

/** What a build returns, as far as it is used here. */
interface BuildResult {
  readonly metafile?: unknown
  readonly outputFiles?: unknown
}

/** The part of esbuild's API used here (esbuild is a development dependency: absent, there is no bundle). */
interface EsbuildLike {
  readonly build: (options: Record<string, unknown>) => Promise<BuildResult>
  readonly buildSync: (options: Record<string, unknown>) => BuildResult
}

const isEsbuild = (u: unknown): u is EsbuildLike =>
  typeof u === "object" && u !== null && "build" in u && typeof u.build === "function" && "buildSync" in u &&
  typeof u.buildSync === "function"

const isStringArray = (u: unknown): u is ReadonlyArray<string> =>
  Array.isArray(u) && u.every((s) => typeof s === "string")

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

const inNodeModules = (file: string): boolean => file.includes(`${path.sep}node_modules${path.sep}`)

/** The nearest of `names` in `dir` or a folder above it. */
const findUp = (dir: string, names: ReadonlyArray<string>): string | undefined => {
  for (let current = dir;; current = path.dirname(current)) {
    const found = names.map((name) => path.join(current, name)).find((file) => fs.existsSync(file))
    if (found !== undefined) return found
    if (path.dirname(current) === current) return undefined
  }
}

/** The hash of what a bundle is built from: the Node version, the entry, the lockfile and every input's content. */
const hashInputs = (entry: string, lockfile: string | undefined, inputs: ReadonlyArray<string>): string => {
  const hash = createHash("sha256").update(process.version).update("\0").update(entry).update("\0")
  for (const file of lockfile === undefined ? inputs : [lockfile, ...inputs]) {
    hash.update(file).update("\0").update(fs.readFileSync(file)).update("\0")
  }
  return hash.digest("hex").slice(0, 16)
}

/** Writes `content` to `file` through a temporary file and a rename: a reader never sees part of it. */
const writeAtomically = (file: string, content: string | Uint8Array): void => {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`
  fs.writeFileSync(tmp, content)
  fs.renameSync(tmp, file)
}

/** Where the bundles of `entry` are kept, and what they depend on besides their inputs. */
interface Plan {
  readonly entry: string
  readonly dir: string
  readonly lockfile: string | undefined
  readonly esbuild: EsbuildLike
}

/**
 * The cached bundle of `entry`, or how to build it; neither without esbuild. The bundles built with
 * and without the `import.meta.url` plugin (`variant`) are kept apart.
 */
const lookup = (
  entry: string,
  variant: "async" | "sync"
): { readonly hit: string } | { readonly plan: Plan } | undefined => {
  const manifest = findUp(path.dirname(entry), ["package.json"])
  if (manifest === undefined) return undefined
  const packageDir = path.dirname(manifest)
  const lockfile = findUp(packageDir, ["pnpm-lock.yaml", "package-lock.json", "yarn.lock"])
  const key = createHash("sha256").update(variant).update("\0").update(entry).digest("hex").slice(0, 16)
  const dir = path.join(packageDir, "node_modules", ".cache", "source-bundle", key)
  try {
    const inputs: unknown = JSON.parse(fs.readFileSync(path.join(dir, "inputs.json"), "utf8"))
    const bundle = isStringArray(inputs) ? path.join(dir, `${hashInputs(entry, lockfile, inputs)}.mjs`) : undefined
    if (bundle !== undefined && fs.existsSync(bundle)) return { hit: bundle }
  } catch {
    // no bundle yet, or one of its inputs is gone
  }
  for (const from of [manifest, import.meta.url]) {
    try {
      const esbuild: unknown = createRequire(from)("esbuild")
      if (isEsbuild(esbuild)) return { plan: { entry, dir, lockfile, esbuild } }
    } catch {
      // not installed there
    }
  }
  return undefined
}

/** esbuild's options for the bundle of `entry`: one ES module for this Node version, kept in memory. */
const buildOptions = (plan: Plan): Record<string, unknown> => ({
  entryPoints: [plan.entry],
  outfile: path.join(plan.dir, "bundle.mjs"),
  write: false,
  metafile: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: `node${process.versions.node.split(".")[0]}`,
  conditions: ["@llama-orch/source"],
  logLevel: "silent",
  // Bundled CommonJS dependencies may `require` Node's built-in modules.
  banner: {
    js:
      "import { createRequire as __bundleRequire } from \"node:module\"; const require = __bundleRequire(import.meta.url);"
  }
})

/** Saves a build's bundle under the hash of its inputs, with the list of those inputs, and prunes old bundles. */
const store = (plan: Plan, result: BuildResult): string | undefined => {
  const output = isObject(result.outputFiles) && Array.isArray(result.outputFiles) ? result.outputFiles[0] : undefined
  const contents: unknown = isObject(output) ? output.contents : undefined
  const metaInputs = isObject(result.metafile) ? result.metafile.inputs : undefined
  if (!(contents instanceof Uint8Array) || !isObject(metaInputs)) return undefined
  const inputs = Object.keys(metaInputs).map((input) => path.resolve(input))
    .filter((input) => !inNodeModules(input) && fs.existsSync(input))
    .sort()
  fs.mkdirSync(plan.dir, { recursive: true })
  const bundle = path.join(plan.dir, `${hashInputs(plan.entry, plan.lockfile, inputs)}.mjs`)
  writeAtomically(bundle, contents)
  writeAtomically(path.join(plan.dir, "inputs.json"), JSON.stringify(inputs))
  const now = Date.now()
  for (const file of fs.readdirSync(plan.dir).map((f) => path.join(plan.dir, f))) {
    if (file !== bundle && file.endsWith(".mjs") && now - fs.statSync(file).mtimeMs > staleAfterMs) {
      fs.rmSync(file, { force: true })
    }
  }
  return bundle
}

/** A string or template literal, a comment, or `import.meta.url` (only the last is replaced). */
const tokens =
  /"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`|\/\/[^\n]*|\/\*[\s\S]*?\*\/|\bimport\.meta\.url\b/g

/** The source with each `import.meta.url` of its code (not of strings or comments) replaced by the source's own URL. */
const withSourceUrl = (source: string, url: string): string =>
  source.replace(tokens, (token) => token === "import.meta.url" ? JSON.stringify(url) : token)

/** An esbuild plugin: every TypeScript module outside `node_modules` keeps its own `import.meta.url`. */
const sourceUrls = {
  name: "source-import-meta-url",
  setup: (
    build: { readonly onLoad: (options: { filter: RegExp }, load: (args: { path: string }) => unknown) => void }
  ) =>
    build.onLoad({ filter: /\.[cm]?ts$/ }, (args) =>
      inNodeModules(args.path) ? undefined : {
        contents: withSourceUrl(fs.readFileSync(args.path, "utf8"), pathToFileURL(args.path).href),
        loader: "ts"
      })
}

/**
 * The bundle of the TypeScript entry point `entry` (an absolute path), built unless an up-to-date
 * one is cached; `None` when esbuild is not installed or cannot build it (run the sources then).
 * Each module keeps its own `import.meta.url`, so what a module finds next to itself (its package
 * manifest, static files, `createRequire`) it finds as when run from the sources.
 *
 * @example
 * ```ts
 * import { SourceBundle } from "@llama-orch/daemon-kit"
 * import { Effect, Option } from "effect"
 *
 * const command = Effect.map(
 *   SourceBundle.bundledEntry("/srv/app/src/bin.ts"),
 *   Option.match({
 *     onNone: () => ["--import", "tsx", "/srv/app/src/bin.ts"],
 *     onSome: (bundle) => [bundle]
 *   })
 * )
 * Effect.runPromise(command).then((args) => console.log("node", ...args))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const bundledEntry = (entry: string): Effect.Effect<Option.Option<string>> =>
  Effect.promise(async () => {
    try {
      const found = lookup(entry, "async")
      if (found === undefined || "hit" in found) return found?.hit
      return store(found.plan, await found.plan.esbuild.build({ ...buildOptions(found.plan), plugins: [sourceUrls] }))
    } catch {
      return undefined
    }
  }).pipe(Effect.map(Option.fromNullable))

/**
 * `bundledEntry`, built synchronously, for callers that cannot wait: there every module's
 * `import.meta.url` is the bundle's (esbuild runs no plugins synchronously), so the entry must not
 * look for files next to its modules other than by walking up to its package.
 *
 * @category constructors
 * @since 0.1.0
 */
export const bundledEntrySync = (entry: string): Option.Option<string> => {
  try {
    const found = lookup(entry, "sync")
    return Option.fromNullable(
      found === undefined || "hit" in found
        ? found?.hit
        : store(found.plan, found.plan.esbuild.buildSync(buildOptions(found.plan)))
    )
  } catch {
    return Option.none()
  }
}
