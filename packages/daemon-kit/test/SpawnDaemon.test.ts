import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { Effect } from "effect"

const plainEntry = new URL("./fixtures/plain-daemon.js", import.meta.url).pathname

describe("SpawnDaemon", () => {
  it("runs a JavaScript entry with plain node and a TypeScript one through tsx", () => {
    expect(SpawnDaemon.defaultNodeArgs("node_modules/@llama-orch/pool-managerd/bin/pool-managerd.js")).toEqual([])
    expect(SpawnDaemon.defaultNodeArgs("apps/pool-managerd/src/bin.ts")).toBe(SpawnDaemon.sourceNodeArgs)
    expect(SpawnDaemon.defaultNodeArgs("src/bin.mts")).toBe(SpawnDaemon.sourceNodeArgs)
  })

  it.scopedLive(
    "starts an installed-style .js bin without any loader, as a user without tsx would",
    () =>
      Effect.gen(function*() {
        const daemon = yield* SpawnDaemon.spawnDaemon({ entry: plainEntry })
        const body = yield* Effect.promise(() => fetch(daemon.url).then((r) => r.text()))
        expect(body).toBe("plain")
        const stderr = yield* daemon.stderr
        expect(JSON.parse(stderr.trim().split("\n")[0] ?? "")).toEqual({ execArgv: [] })
        yield* daemon.signal("SIGTERM")
        expect(yield* daemon.exit).toEqual({ _tag: "Exited", code: 0 })
        expect(SpawnDaemon.isProcessAlive(daemon.pid)).toBe(false)
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )
})
