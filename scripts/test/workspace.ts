import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** The repository root. */
export const repoRoot = path.resolve(new URL("../..", import.meta.url).pathname)

/** A package of the workspace: its folder and manifest. */
export interface WorkspacePackage {
  readonly dir: string
  readonly name: string
  readonly version: string
  readonly private: boolean
}

/** Every package under packages/ and apps/ (the published ones and their private siblings). */
export const workspacePackages = (root: string = repoRoot): ReadonlyArray<WorkspacePackage> =>
  ["packages", "apps"].flatMap((group) =>
    fs.readdirSync(path.join(root, group)).flatMap((name) => {
      const file = path.join(root, group, name, "package.json")
      if (!fs.existsSync(file)) return []
      const manifest: { name: string; version: string; private?: boolean } = JSON.parse(fs.readFileSync(file, "utf8"))
      return [{
        dir: path.join(root, group, name),
        name: manifest.name,
        version: manifest.version,
        private: manifest.private === true
      }]
    })
  )

/** Copies the files git knows (tracked and untracked-but-not-ignored) into a fresh temporary folder. */
export const copyWorkingTree = (prefix: string): string => {
  const target = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: repoRoot,
    encoding: "utf8"
  }).split("\0").filter((f) => f.length > 0 && fs.existsSync(path.join(repoRoot, f)))
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(target, file)), { recursive: true })
    fs.copyFileSync(path.join(repoRoot, file), path.join(target, file))
  }
  return target
}

/**
 * The version the lockfile installs for each direct dependency of the workspace's importers (the
 * first one found when two importers differ), without pnpm's peer suffix.
 */
export const lockedVersions = (root: string = repoRoot): ReadonlyMap<string, string> => {
  const lines = fs.readFileSync(path.join(root, "pnpm-lock.yaml"), "utf8").split("\n")
  const start = lines.indexOf("importers:")
  const end = lines.findIndex((line, i) => i > start && /^\S/.test(line))
  const versions = new Map<string, string>()
  let name: string | undefined
  for (const line of lines.slice(start + 1, end === -1 ? undefined : end)) {
    const dependency = /^ {6}'?([^':\s]+)'?:$/.exec(line)
    if (dependency !== null) name = dependency[1]
    const version = /^ {8}version: ([^(\s]+)/.exec(line)
    if (version?.[1] !== undefined && name !== undefined && !versions.has(name)) versions.set(name, version[1])
  }
  return versions
}
