import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { repoRoot } from "./workspace.js"

interface ExampleManifest {
  readonly name: string
  readonly scripts?: { readonly start?: string }
}

const examples = fs.readdirSync(path.join(repoRoot, "examples")).flatMap((dir) => {
  const file = path.join(repoRoot, "examples", dir, "package.json")
  if (!fs.existsSync(file)) return []
  const manifest: ExampleManifest = JSON.parse(fs.readFileSync(file, "utf8"))
  return manifest.scripts?.start === undefined ? [] : [{ dir: path.join(repoRoot, "examples", dir), manifest }]
})

/** Runs an example's `start` command (each is `node … src/main.ts`) the way `pnpm start` would. */
const runStart = (dir: string, start: string) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const [command, ...args] = start.split(" ")
    // remote-watch watches POOL_MANAGERD_URL when it is set; here it starts its own demo daemon
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("POOL_MANAGERD_")))
    const child = execFile(command ?? "node", args, { cwd: dir, timeout: 180_000, env })
    let out = ""
    child.stdout?.on("data", (chunk) => (out += String(chunk)))
    child.stderr?.on("data", (chunk) => (out += String(chunk)))
    child.on("exit", (code) => resolve({ code, out }))
  })

describe("examples", () => {
  it("has the four documented examples", () => {
    expect(examples.map((e) => e.manifest.name).sort()).toEqual([
      "@llama-orch/example-custom-engine-profile",
      "@llama-orch/example-embedded-pool",
      "@llama-orch/example-remote-watch",
      "@llama-orch/example-swap-layers"
    ])
  })

  for (const example of examples) {
    it(`${example.manifest.name}: its start command runs to completion`, async () => {
      const { code, out } = await runStart(example.dir, example.manifest.scripts?.start ?? "")
      expect(out.length, out).toBeGreaterThan(0)
      expect(code, out).toBe(0)
    }, 200_000)
  }
})
