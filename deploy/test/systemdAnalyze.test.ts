/**
 * The units checked by systemd's own tool: `systemd-analyze verify` finds no error or warning, and
 * `systemd-analyze security` rates each at an exposure of 2.0 or less (the figure the unit's header
 * and docs/SECURITY.md state). scripts/test-tools.sh installs systemd-analyze where it is missing.
 */
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { appCommand, readUnit, repoRoot, unitsDir, value } from "./units.js"

const apps = ["pool-managerd", "orchestratord"] as const

const systemdAnalyze = (args: ReadonlyArray<string>) => {
  const result = spawnSync("systemd-analyze", args, { encoding: "utf8", timeout: 60_000 })
  if (result.error !== undefined) {
    throw new Error(`systemd-analyze could not run (${result.error.message}): install it with scripts/test-tools.sh`)
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/**
 * A root for `verify --root`: the host's unit library (for the targets the units name), the units
 * in /etc/systemd/system, and, in /usr/local/bin (where `npm install -g` puts them), the daemons'
 * commands as launchers of this repository's sources. `verify` resolves `ExecStart=` by name in
 * that root and fails when the command is not there, so it checks the name without the packages
 * being installed on the test machine.
 */
const verifyRoot = fs.mkdtempSync(path.join(os.tmpdir(), "systemd-root-"))
afterAll(() => fs.rmSync(verifyRoot, { recursive: true, force: true }))
fs.cpSync("/usr/lib/systemd/system", path.join(verifyRoot, "usr/lib/systemd/system"), { recursive: true })
fs.mkdirSync(path.join(verifyRoot, "etc/systemd/system"), { recursive: true })
fs.mkdirSync(path.join(verifyRoot, "usr/local/bin"), { recursive: true })
for (const app of apps) {
  const command = appCommand(app)
  const node = [process.execPath, ...SpawnDaemon.sourceNodeArgs, command.entry].map((w) => JSON.stringify(w))
  fs.writeFileSync(path.join(verifyRoot, "usr/local/bin", command.name), `#!/bin/sh\nexec ${node.join(" ")} "$@"\n`, {
    mode: 0o755
  })
  fs.copyFileSync(path.join(unitsDir, `${app}.service`), path.join(verifyRoot, "etc/systemd/system", `${app}.service`))
}

const securityDoc = fs.readFileSync(path.join(repoRoot, "docs/SECURITY.md"), "utf8")

describe.each(apps)("deploy/systemd/%s.service", (app) => {
  const unitName = `${app}.service`
  const unitFile = path.join(unitsDir, unitName)

  it("starts the command the package installs", () => {
    const [command] = value(readUnit(unitName), "ExecStart").split(/\s+/)
    expect(command).toBe(appCommand(app).name)
  })

  it("passes systemd-analyze verify without errors or warnings", () => {
    const result = systemdAnalyze(["verify", `--root=${verifyRoot}`, unitName])
    expect(result.stderr).toBe("")
    expect(result.status).toBe(0)
  })

  it("verify fails when the command is not installed (so the check above means something)", () => {
    const launcher = path.join(verifyRoot, "usr/local/bin", appCommand(app).name)
    const moved = `${launcher}.moved`
    fs.renameSync(launcher, moved)
    try {
      const result = systemdAnalyze(["verify", `--root=${verifyRoot}`, unitName])
      expect(result.status).not.toBe(0)
      expect(result.stderr).toContain("is not executable")
    } finally {
      fs.renameSync(moved, launcher)
    }
  })

  it("has an overall exposure of at most 2.0 in systemd-analyze security, as its header and SECURITY.md say", () => {
    const result = systemdAnalyze(["security", "--offline=true", "--threshold=20", "--no-pager", unitFile])
    const exposure = /Overall exposure level for \S+: (\d+\.\d+)/.exec(result.stdout)?.[1]
    expect(exposure, result.stdout + result.stderr).toBeDefined()
    expect(Number(exposure)).toBeLessThanOrEqual(2.0)
    // --threshold=20 is 2.0 on systemd's 0–100 scale: above it the command fails
    expect(result.status).toBe(0)
    expect(fs.readFileSync(unitFile, "utf8")).toContain(`rates this unit ${exposure} (OK)`)
    expect(securityDoc).toMatch(new RegExp(`\\| \`${app}\\.service\` \\| ${exposure}`))
  })
})
