/**
 * orchestratord with embedded pools and no `state_dir` keeps its pidfiles in the XDG state
 * directory, which outlives the process: engines left by a SIGKILLed daemon are reaped by the next
 * start (a temporary directory, as before, was gone with the process and its engines stayed).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, it } from "@effect/vitest"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { Effect } from "effect"
import { readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { childPids, isAlive, privateStateHome, waitGone, waitOk } from "./fixtures/processes.js"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const entry = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

it.scopedLive("engines left by a SIGKILLed orchestratord are reaped at its next start", () =>
  Effect.gen(function*() {
    const env = yield* privateStateHome
    const start = SpawnDaemon.spawnDaemon({ entry, args: ["--port", "0"], env, cwd: root })
    const first = yield* start
    yield* waitOk(`${first.url}/ready`)
    const stateDir = `${env.XDG_STATE_HOME}/llama-orch/orchestratord`
    expect(readdirSync(`${stateDir}/run`)).toEqual(["mock-0.json"])
    const engines = childPids(first.pid)
    expect(engines.length).toBeGreaterThan(0)

    yield* first.signal("SIGKILL")
    yield* first.exit
    expect(engines.filter(isAlive)).toEqual(engines)

    const second = yield* start
    yield* waitOk(`${second.url}/ready`)
    yield* waitGone(engines)
    yield* second.signal("SIGTERM")
    expect(yield* second.exit).toEqual({ _tag: "Exited", code: 0 })
  }).pipe(Effect.provide(NodeContext.layer)), 120_000)
