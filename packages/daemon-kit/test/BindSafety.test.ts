import { describe, expect, it } from "@effect/vitest"
import { BindSafety } from "@llama-orch/daemon-kit"
import { Effect, Exit, Option, Redacted } from "effect"

const table: ReadonlyArray<readonly [string, boolean]> = [
  ["127.0.0.1", true],
  ["127.1.2.3", true],
  ["127.255.255.254", true],
  ["localhost", true],
  ["LOCALHOST", true],
  ["::1", true],
  ["[::1]", true],
  ["0:0:0:0:0:0:0:1", true],
  ["::ffff:127.0.0.1", true],
  ["0.0.0.0", false],
  ["::", false],
  ["128.0.0.1", false],
  ["10.0.0.1", false],
  ["192.168.1.10", false],
  ["::ffff:10.0.0.1", false],
  ["localhost.example.com", false],
  ["127.0.0.1.example.com", false],
  ["example.com", false],
  ["", false]
]

describe("BindSafety", () => {
  it.each(table)("isLoopbackHost(%j) is %s", (host, loopback) => {
    expect(BindSafety.isLoopbackHost(host)).toBe(loopback)
  })

  it.effect("refuses a non-loopback host without a token, with a message naming the host and the fix", () =>
    Effect.gen(function*() {
      for (const [host, loopback] of table) {
        const exit = yield* Effect.exit(BindSafety.ensureBindAllowed(host, Option.none(), "token or DAEMON_TOKEN"))
        expect(Exit.isSuccess(exit)).toBe(loopback)
        const withToken = yield* Effect.exit(
          BindSafety.ensureBindAllowed(host, Option.some(Redacted.make("t")), "token")
        )
        expect(Exit.isSuccess(withToken)).toBe(true)
      }
      const error = yield* Effect.flip(BindSafety.ensureBindAllowed("0.0.0.0", Option.none(), "token or DAEMON_TOKEN"))
      expect(error._tag).toBe("BindRefused")
      expect(error.message).toContain("0.0.0.0")
      expect(error.message).toContain("DAEMON_TOKEN")
    }))
})
