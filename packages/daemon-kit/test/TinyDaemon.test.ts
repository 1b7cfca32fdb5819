import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Promtool, SpawnDaemon } from "@llama-orch/daemon-kit"
import { Effect } from "effect"

const entry = new URL("./fixtures/tiny-daemon.ts", import.meta.url).pathname

describe("a daemon built with daemon-kit, as a real process", () => {
  it.scopedLive(
    "prints exactly the listening line, serves, logs JSON on stderr, and ends streams on SIGTERM with exit 0",
    () =>
      Effect.gen(function*() {
        const daemon = yield* SpawnDaemon.spawnDaemon({
          entry,
          args: ["--port", "0"],
          env: { TINY_TOKEN: "tok-XYZ-123" }
        })
        expect(daemon.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
        const hello = yield* Effect.promise(() => fetch(`${daemon.url}/hello`).then((r) => r.text()))
        expect(hello).toBe("hi")
        const metrics = yield* Effect.promise(() => fetch(`${daemon.url}/metrics`).then((r) => r.text()))
        expect(metrics).toContain("# TYPE tiny_hits_total counter")
        expect(metrics).toMatch(/^tiny_hits_total\{route="hello"\} 1$/m)
        expect(metrics).toMatch(/^process_cpu_seconds_total \S+$/m)
        expect(yield* Promtool.checkMetrics(metrics)).toEqual({ exitCode: 0, output: "" })

        const response = yield* Effect.promise(() => fetch(`${daemon.url}/stream`))
        const body = response.body
        if (body === null) return expect.fail("no response body")
        const reader = body.getReader()
        const first = yield* Effect.promise(() => reader.read())
        expect(new TextDecoder().decode(first.value)).toContain("tick")
        yield* daemon.signal("SIGTERM")
        let rest = ""
        for (;;) {
          const chunk = yield* Effect.promise(() => reader.read())
          if (chunk.done) break
          rest += new TextDecoder().decode(chunk.value)
        }
        expect(rest.endsWith("bye\n")).toBe(true)
        const exit = yield* daemon.exit
        expect(exit).toEqual({ _tag: "Exited", code: 0 })
        expect(SpawnDaemon.isProcessAlive(daemon.pid)).toBe(false)

        const stdout = yield* daemon.stdout
        expect(stdout).toBe(`listening on ${daemon.url}\n`)
        const stderr = yield* daemon.stderr
        expect(stderr).not.toContain("tok-XYZ-123")
        const lines: ReadonlyArray<unknown> = stderr.trim().split("\n").map((line) => JSON.parse(line))
        expect(lines).toEqual([
          expect.objectContaining({
            level: "info",
            message: "Tiny daemon is starting.",
            token: "<redacted>",
            timestamp: expect.any(String)
          }),
          expect.objectContaining({ level: "info", message: "Tiny daemon stopped." })
        ])
      }).pipe(Effect.provide(NodeContext.layer)),
    120_000
  )

  it.scopedLive(
    "refuses a non-loopback host without a token: exit code 2 and a clear message",
    () =>
      Effect.gen(function*() {
        const result = yield* SpawnDaemon.runToExit({ entry, args: ["--host", "0.0.0.0", "--port", "0"] })
        expect(result.exit).toEqual({ _tag: "Exited", code: 2 })
        expect(result.stdout).toBe("")
        expect(result.stderr).toContain("refusing to listen on 0.0.0.0 without a token")
        expect(result.stderr).toContain("TINY_TOKEN")
      }).pipe(Effect.provide(NodeContext.layer)),
    120_000
  )
})
