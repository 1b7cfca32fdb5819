/**
 * Child processes for benchmarks: start one and wait for its `listening on URL` line, stop it,
 * and read the CPU time it has used.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))

/** A started process and the URL it printed. */
export interface Running {
  readonly proc: ChildProcess
  readonly url: string
}

/** Starts `command` in the repository root and waits (3 min at most) for its listening line. */
/**
 * The TypeScript entry point of a daemon of the workspace (`orchestratord`, `pool-managerd`), found
 * through its package, to run with `--conditions=@llama-orch/source --import tsx`.
 */
export const daemonSource = (name: "orchestratord" | "pool-managerd"): string =>
  path.join(path.dirname(createRequire(import.meta.url).resolve(`@llama-orch/${name}/package.json`)), "src/bin.ts")

export const start = (command: string, args: ReadonlyArray<string>): Promise<Running> =>
  new Promise((resolve, reject) => {
    const proc = spawn(command, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    const timer = setTimeout(() => reject(new Error(`no listening line from ${args.at(-1)}: ${err}`)), 180_000)
    proc.stderr?.on("data", (chunk: Buffer) => {
      err = (err + chunk.toString()).slice(-4000)
    })
    proc.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening on (http:\/\/\S+)/.exec(out)
      if (match?.[1] !== undefined) {
        clearTimeout(timer)
        resolve({ proc, url: match[1] })
      }
    })
    proc.on("exit", (code) => reject(new Error(`exited with ${code}: ${err}`)))
  })

/** Sends SIGTERM and waits for the exit. */
export const stop = (running: Running): Promise<void> =>
  new Promise((resolve) => {
    if (running.proc.exitCode !== null) return resolve()
    running.proc.once("exit", () => resolve())
    running.proc.kill("SIGTERM")
  })

/** User + system CPU time of a process so far, in ms (Linux: `/proc/PID/stat`, clock ticks of 10 ms). */
export const cpuMs = (pid: number | undefined): number => {
  if (pid === undefined) return Number.NaN
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return Number.NaN
  }
}
