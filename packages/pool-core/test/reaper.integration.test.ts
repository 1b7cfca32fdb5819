import { NodeContext } from "@effect/platform-node"
import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Schema, Stream } from "effect"
import * as NodeProcess from "node:process"
import { PoolManager } from "../src/index.js"
import { alive, awaitGone, withManager } from "./support/harness.js"

const Pids = Schema.parseJson(Schema.Struct({ pids: Schema.Array(Schema.Int) }))

/** Runs the orphan-manager fixture on `stateDir` and returns its pid and its engines' pids. */
const startOrphanManager = (stateDir: string) =>
  Effect.gen(function*() {
    const executor = yield* CommandExecutor.CommandExecutor
    const fixture = new URL("./fixtures/orphan-manager.ts", import.meta.url).pathname
    const proc = yield* executor.start(
      Command.make(NodeProcess.execPath, "--conditions=@llama-orch/source", "--import", "tsx", fixture, stateDir).pipe(
        Command.stderr("inherit")
      )
    )
    const line = yield* proc.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.filter((l) => l.startsWith("{")),
      Stream.runHead,
      Effect.timeout("90 seconds")
    )
    const { pids } = yield* Schema.decodeUnknown(Pids)(Option.getOrThrow(line))
    // ends once the process is reaped: a killed child is a zombie until then, which a state
    // directory's lock still counts as its owner
    return { manager: proc.pid, engines: pids, reaped: Effect.either(proc.exitCode) }
  })

describe("embedded pool manager: reaper", () => {
  it.live(
    "engines orphaned by a SIGKILLed manager are reaped by the next manager on the same state directory",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "pool-core-reaper-" })
        const { engines, manager, reaped } = yield* startOrphanManager(stateDir)
        expect(engines).toHaveLength(2)
        expect((yield* fs.readDirectory(`${stateDir}/run`)).sort()).toEqual(["orphan-a.json", "orphan-b.json"])

        NodeProcess.kill(manager, "SIGKILL")
        yield* reaped
        expect(yield* awaitGone(manager)).toBe(true)
        // the manager's finalizers never ran: its engines are orphans now
        expect(engines.filter(alive)).toEqual(engines)

        yield* withManager({ stateDir }, () =>
          Effect.gen(function*() {
            // building the manager reaped them
            yield* PoolManager
            for (const pid of engines) expect(yield* awaitGone(pid)).toBe(true)
            expect(yield* fs.readDirectory(`${stateDir}/run`)).toEqual([])
          }))
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    120_000
  )
})
