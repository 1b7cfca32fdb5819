import { describe, expect, it } from "@effect/vitest"
import { ConfigFile, DaemonMain, Logging } from "@llama-orch/daemon-kit"
import { Cause, Effect, Exit, FiberId, Logger, Redacted } from "effect"

describe("Logging", () => {
  it.effect("writes one JSON line with timestamp, level, message and annotations; secrets redacted", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      yield* Effect.logWarning("Pool is draining.").pipe(
        Effect.annotateLogs({ pool_id: "p1", engine: "mock", token: Redacted.make("hunter2") }),
        Effect.provide(Logger.replace(Logger.defaultLogger, Logging.makeJsonLogger((l) => lines.push(l))))
      )
      expect(lines).toHaveLength(1)
      const line = lines[0] ?? ""
      expect(line.endsWith("\n")).toBe(true)
      expect(line).not.toContain("hunter2")
      const entry: unknown = JSON.parse(line)
      expect(entry).toMatchObject({
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        level: "warn",
        message: "Pool is draining.",
        pool_id: "p1",
        engine: "mock",
        token: "<redacted>"
      })
    }))
})

describe("DaemonMain.exitReport", () => {
  it("maps ends of the program to exit codes", () => {
    expect(DaemonMain.exitReport("d", Exit.void)).toEqual({ code: 0, stderr: undefined })
    expect(DaemonMain.exitReport("d", Exit.interrupt(FiberId.none)).code).toBe(0)
    const config = DaemonMain.exitReport("d", Exit.fail(ConfigFile.configError("d.yaml", "port", "bad")))
    expect(config.code).toBe(2)
    expect(config.stderr).toContain("d.yaml")
    expect(config.stderr).toContain("port: bad")
    const crash = DaemonMain.exitReport("d", Exit.failCause(Cause.die(new Error("boom"))))
    expect(crash.code).toBe(1)
    expect(JSON.parse(crash.stderr ?? "")).toMatchObject({ level: "fatal" })
  })
})
