import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import { engineEnv, renderArgs } from "../src/internal/engineProcess.js"
import { parseCmdline, parseStatProcessGroup, parseStatStartTime } from "../src/internal/processControl.js"
import { sameProcess } from "../src/internal/reaper.js"
import { appendLine, tail } from "../src/internal/ringBuffer.js"
import { PidRecord } from "../src/internal/stateFiles.js"

describe("engine command line", () => {
  it("fills every template variable and leaves unknown placeholders alone", () => {
    const args = renderArgs(
      ["-m", "{model}", "--host={host}", "--port", "{port}", "-np", "{slots}", "-c", "{ctx}", "{poolId}", "{nope}"],
      { model: "/m/tiny.gguf", host: "127.0.0.1", port: "8081", slots: "4", ctx: "8192", poolId: "p1" }
    )
    expect(args).toEqual([
      "-m",
      "/m/tiny.gguf",
      "--host=127.0.0.1",
      "--port",
      "8081",
      "-np",
      "4",
      "-c",
      "8192",
      "p1",
      "{nope}"
    ])
  })

  it("layers profile env, spec env and CUDA_VISIBLE_DEVICES", () => {
    expect(engineEnv({ A: "1", B: "1" }, { B: "2" }, "0,1")).toEqual({ A: "1", B: "2", CUDA_VISIBLE_DEVICES: "0,1" })
    expect(engineEnv(undefined, undefined, undefined)).toEqual({})
  })
})

describe("/proc parsing", () => {
  it("reads the start time (field 22) even when the command name has spaces and parentheses", () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3))
    const stat = `1234 (my (weird) name) ${fields.join(" ")}`
    expect(parseStatStartTime(stat)).toEqual(Option.some("22"))
    expect(parseStatStartTime("garbage")).toEqual(Option.none())
  })

  it("splits cmdline on NUL", () => {
    expect(parseCmdline("node\u0000a b\u0000--x\u0000")).toEqual(["node", "a b", "--x"])
  })

  it("recognizes the recorded process only with the same start time and command line", () => {
    const record = new PidRecord({
      poolId: "p1",
      pid: 10,
      pgid: 10,
      startedAt: 0,
      command: "/usr/bin/node",
      args: ["engine.js", "--port", "1"],
      procStartTime: "777"
    })
    const argv = ["/usr/bin/node", "engine.js", "--port", "1"]
    const group = Option.some(10)
    expect(sameProcess(record, Option.some("777"), argv, group)).toBe(true)
    expect(sameProcess(record, Option.some("778"), argv, group)).toBe(false)
    expect(sameProcess(record, Option.some("777"), ["/usr/bin/node", "other.js", "--port", "1"], group)).toBe(false)
    expect(sameProcess(record, Option.none(), argv, group)).toBe(false)
  })

  it("trusts a record only for a process that leads its own group, whatever pgid the file claims", () => {
    const base = {
      poolId: "p1",
      pid: 10,
      startedAt: 0,
      command: "/usr/bin/node",
      args: ["engine.js"],
      procStartTime: "777"
    }
    const argv = ["/usr/bin/node", "engine.js"]
    // a planted pgid (1: every process) is refused even when the pid itself checks out
    expect(sameProcess(new PidRecord({ ...base, pgid: 1 }), Option.some("777"), argv, Option.some(10))).toBe(false)
    // the process is in another group than it leads
    expect(sameProcess(new PidRecord({ ...base, pgid: 10 }), Option.some("777"), argv, Option.some(1))).toBe(false)
    expect(sameProcess(new PidRecord({ ...base, pgid: 10 }), Option.some("777"), argv, Option.none())).toBe(false)
  })

  it("reads the process group from /proc/<pid>/stat", () => {
    expect(parseStatProcessGroup("10 (node (x) y) S 1 10 10 0 -1")).toEqual(Option.some(10))
    expect(parseStatProcessGroup("garbage")).toEqual(Option.none())
  })
})

describe("output ring buffer", () => {
  it("keeps only the last characters", () => {
    let buffer = ""
    for (let i = 0; i < 1_000; i++) buffer = appendLine(buffer, `line ${i}`, 100)
    expect(buffer.length).toBeLessThanOrEqual(100)
    expect(buffer.endsWith("line 999\n")).toBe(true)
    expect(tail(buffer, 2)).toBe("line 998\nline 999")
  })
})
