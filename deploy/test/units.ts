/**
 * Reading the systemd units of deploy/systemd, and playing the service manager for them in a test:
 * the environment, directories and credentials systemd would give the service, laid out under a
 * temporary directory that stands for `/`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** The folder of the units. */
export const unitsDir = fileURLToPath(new URL("../systemd/", import.meta.url))

/** The repository root. */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url))

/** A unit file: its name, its text and the settings of its [Service] section, in order. */
export interface Unit {
  readonly name: string
  readonly file: string
  readonly service: ReadonlyArray<readonly [key: string, value: string]>
}

/** Parses `deploy/systemd/<name>` (comments, sections and `Key=value` lines; no continuations). */
export const readUnit = (name: string): Unit => {
  const file = path.join(unitsDir, name)
  let section = ""
  const service: Array<readonly [string, string]> = []
  for (const raw of fs.readFileSync(file, "utf8").split("\n")) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue
    if (line.endsWith("\\")) throw new Error(`${name}: line continuations are not supported here: ${line}`)
    const header = /^\[(.+)\]$/.exec(line)
    if (header !== null) {
      section = header[1] ?? ""
      continue
    }
    const eq = line.indexOf("=")
    if (eq < 0) throw new Error(`${name}: not a setting: ${line}`)
    if (section === "Service") service.push([line.slice(0, eq), line.slice(eq + 1)])
  }
  return { name, file, service }
}

/** Every value of `key` in the [Service] section. */
export const values = (unit: Unit, key: string): ReadonlyArray<string> =>
  unit.service.filter(([k]) => k === key).map(([, v]) => v)

/** The one value of `key`, failing when it is missing or repeated. */
export const value = (unit: Unit, key: string): string => {
  const all = values(unit, key)
  if (all.length !== 1) throw new Error(`${unit.name}: expected one ${key}=, found ${all.length}`)
  return all[0] ?? ""
}

/**
 * Expands the specifiers the units use as the system manager does (`%S` /var/lib, `%C` /var/cache,
 * `%d` the credentials directory, `%%`); any other specifier is an error, so a new one gets a look.
 */
const expandSpecifiers = (unit: Unit, text: string): string =>
  text.replace(/%(.)/g, (_, letter: string) => {
    switch (letter) {
      case "S":
        return "/var/lib"
      case "C":
        return "/var/cache"
      case "d":
        return `/run/credentials/${unit.name}`
      case "%":
        return "%"
      default:
        throw new Error(`${unit.name}: specifier %${letter} is not handled by this test`)
    }
  })

/** Where systemd looks up a credential named without an absolute path (systemd.exec(5)). */
const credentialStores = ["/etc/credstore", "/run/credstore", "/usr/lib/credstore"]

/** How the service would be started: its command name, arguments and the environment systemd adds. */
export interface ServiceStart {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly env: Record<string, string>
}

/**
 * Plays the service manager under `root` (which stands for `/`): creates the state, cache and
 * runtime directories, copies each `LoadCredential=` found in a credential store into the
 * credentials directory (skipping missing ones, as systemd does for credential-store names), and
 * returns `ExecStart=` with `${VAR}` expanded and absolute paths moved under `root`. Absolute
 * credential paths are refused: systemd fails a unit when such a file is missing.
 */
export const prepareService = (unit: Unit, root: string): ServiceStart => {
  const under = (p: string) => path.join(root, p)
  const env: Record<string, string> = {}
  const directories = [
    ["StateDirectory", "/var/lib", "STATE_DIRECTORY"],
    ["CacheDirectory", "/var/cache", "CACHE_DIRECTORY"],
    ["RuntimeDirectory", "/run", "RUNTIME_DIRECTORY"]
  ] as const
  for (const [key, base, variable] of directories) {
    for (const name of values(unit, key)) {
      fs.mkdirSync(under(path.join(base, name)), { recursive: true, mode: 0o700 })
      env[variable] = under(path.join(base, name))
    }
  }
  for (const setting of values(unit, "Environment")) {
    const eq = setting.indexOf("=")
    env[setting.slice(0, eq)] = moveUnder(root, expandSpecifiers(unit, setting.slice(eq + 1)))
  }
  const credentials = values(unit, "LoadCredential")
  if (credentials.length > 0) {
    const dir = under(`/run/credentials/${unit.name}`)
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    env.CREDENTIALS_DIRECTORY = dir
    for (const credential of credentials) {
      const [id = "", source = id] = credential.split(":")
      if (path.isAbsolute(source)) {
        throw new Error(`${unit.name}: LoadCredential=${credential}: a missing absolute path stops the unit`)
      }
      const found = credentialStores.map((store) => under(path.join(store, source))).find((p) => fs.existsSync(p))
      if (found !== undefined) fs.copyFileSync(found, path.join(dir, id))
    }
  }
  const [command = "", ...words] = value(unit, "ExecStart").split(/\s+/)
  const args = words.map((word) =>
    moveUnder(root, word).replace(/\$\{(\w+)\}/g, (_, name: string) => {
      const found = env[name]
      if (found === undefined) throw new Error(`${unit.name}: ExecStart uses \${${name}}, which is not set`)
      return found
    })
  )
  return { command, args, env }
}

/** An absolute path moved under `root`; anything else unchanged. */
const moveUnder = (root: string, word: string): string => word.startsWith("/") ? path.join(root, word) : word

/** The command an app's package installs (`bin` in its package.json) and the source it runs. */
export const appCommand = (app: string): { readonly name: string; readonly entry: string } => {
  const manifest: { bin: Record<string, string> } = JSON.parse(
    fs.readFileSync(path.join(repoRoot, "apps", app, "package.json"), "utf8")
  )
  const [name = ""] = Object.keys(manifest.bin)
  return { name, entry: path.join(repoRoot, "apps", app, "src", "bin.ts") }
}
