/**
 * Running the engine from TypeScript sources without a loader hook: the sources are transpiled once
 * (per content hash) into `node_modules/.cache/mock-engine/<hash>/` and run with plain Node.
 * Node 20's off-thread loader hooks (tsx) roughly double the start-up time of a process that loads
 * as many modules as this one, and the engine is spawned many times in tests.
 *
 * @internal
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import type * as TS from "typescript"

/** Entries of older sources are removed once they are this old (engines started from them keep running). */
const staleAfterMs = 60 * 60 * 1000

const pruneStale = (cacheDir: string, keep: string): void => {
  const now = Date.now()
  for (const entry of fs.readdirSync(cacheDir)) {
    const dir = path.join(cacheDir, entry)
    if (dir !== keep && now - fs.statSync(dir).mtimeMs > staleAfterMs) fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Transpiles `srcDir` (unless already cached) and returns the path of the cached `bin.js`, or undefined. */
export const cachedBin = (srcDir: string, packageDir: string): string | undefined => {
  try {
    const files = fs.readdirSync(srcDir, { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))
      .sort()
    const hash = createHash("sha256")
    const sources = files.map((file) => {
      const text = fs.readFileSync(path.join(srcDir, file), "utf8")
      hash.update(file).update("\0").update(text).update("\0")
      return { file, text }
    })
    const outDir = path.join(packageDir, "node_modules", ".cache", "mock-engine", hash.digest("hex").slice(0, 16))
    const bin = path.join(outDir, "bin.js")
    if (fs.existsSync(bin)) return bin
    const ts: typeof TS = createRequire(path.join(packageDir, "package.json"))("typescript")
    const tmpDir = `${outDir}.tmp-${process.pid}-${Date.now()}`
    for (const { file, text } of sources) {
      const out = path.join(tmpDir, file.replace(/\.ts$/, ".js"))
      fs.mkdirSync(path.dirname(out), { recursive: true })
      const js = ts.transpileModule(text, {
        fileName: file,
        compilerOptions: {
          module: ts.ModuleKind.ESNext,
          target: ts.ScriptTarget.ES2022,
          isolatedModules: true
        }
      }).outputText
      fs.writeFileSync(out, js)
    }
    // Outside the package scope (node_modules), so say that these files are ES modules.
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
