/**
 * SIGTERM to pool-managerd while orchestratord streams generations from its engines: leased work
 * runs on until `shutdown_deadline_ms` (it was cut after ~145 ms), new leases are refused, work past
 * the deadline and work still queued end with a final event, and the daemon exits 0 with no engine
 * left. Real processes and real time: the deadlines are short, and only order and outcomes are
 * asserted.
 */
import { FileSystem } from "@effect/platform"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, expect, it } from "@effect/vitest"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { Effect, Fiber } from "effect"
import { fileURLToPath } from "node:url"
import { childPids, isAlive, waitGone, waitOk } from "./fixtures/processes.js"
import { readSse } from "./fixtures/sse.js"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const orchestratord = fileURLToPath(new URL("../src/bin.ts", import.meta.url))
const poolManagerd = fileURLToPath(new URL("../../pool-managerd/src/bin.ts", import.meta.url))
const env = { POOL_MANAGERD_TOKEN: "shutdown-secret" }

const submit = (url: string, maxTokens: number) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}/v2/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_ref: "mock-model", prompt: "a long story", max_tokens: maxTokens })
    })
    const body: unknown = await response.json()
    assert(typeof body === "object" && body !== null && "task_id" in body, JSON.stringify(body))
    return String(body.task_id)
  })

/** Follows a task's events to their end. */
const follow = (url: string, taskId: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}/v2/tasks/${taskId}/events`)
    return (await readSse(response)).events
  })

const waitForToken = (url: string, taskId: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}/v2/tasks/${taskId}/events`)
    await readSse(response, (events) => events.some((e) => e.event === "token"))
  })

it.scopedLive(
  "SIGTERM to pool-managerd lets leased generations finish within the deadline",
  () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "pm-shutdown-" })
      yield* fs.writeFileString(
        `${dir}/pm.yaml`,
        [
          `state_dir: ${JSON.stringify(`${dir}/state`)}`,
          "shutdown_deadline_ms: 3000",
          "stop_grace_ms: 2000",
          "engines: [{ name: mock, mock: true, args: [\"--tps\", \"20\"] }]",
          "pools: [{ id: gpu-0, engine: mock, model: mock-model, slots: 2 }]"
        ].join("\n")
      )
      const pm = yield* SpawnDaemon.spawnDaemon({
        entry: poolManagerd,
        args: ["--config", `${dir}/pm.yaml`, "--port", "0"],
        cwd: root,
        env
      })
      yield* fs.writeFileString(`${dir}/orch.yaml`, `pool_manager:\n  url: ${pm.url}\n`)
      const orch = yield* SpawnDaemon.spawnDaemon({
        entry: orchestratord,
        args: ["--config", `${dir}/orch.yaml`, "--port", "0"],
        cwd: root,
        env
      })
      yield* waitOk(`${orch.url}/ready`)
      const engines = childPids(pm.pid)

      // two slots: a short generation (~1 s) and a long one (~10 s, past the deadline) run; a third waits
      const short = yield* submit(orch.url, 20)
      const long = yield* submit(orch.url, 200)
      yield* Effect.all([waitForToken(orch.url, short), waitForToken(orch.url, long)], { concurrency: 2 })
      const queued = yield* submit(orch.url, 5)
      const streams = yield* Effect.fork(
        Effect.all([follow(orch.url, short), follow(orch.url, long), follow(orch.url, queued)], { concurrency: 3 })
      )

      yield* pm.signal("SIGTERM")
      const [shortEvents, longEvents, queuedEvents] = yield* Fiber.join(streams)

      // the short generation finished in full although pool-managerd was stopping
      expect(shortEvents.filter((e) => e.event === "token")).toHaveLength(20)
      expect(shortEvents.at(-1)?.event).toBe("end")
      // the long one was cut at the deadline (its engine stopped) and said so
      const longEnd = longEvents.at(-1)
      expect(longEnd?.event).toBe("failed")
      expect(JSON.parse(longEnd?.data ?? "{}")).toMatchObject({ code: "WORKER_RESET", retriable: true })
      expect(longEvents.filter((e) => e.event === "token").length).toBeLessThan(200)
      // the queued task got a final event too, not silence
      const queuedEnd = queuedEvents.at(-1)
      expect(queuedEnd?.event).toBe("failed")
      expect(JSON.parse(queuedEnd?.data ?? "{}")).toMatchObject({ code: "POOL_UNREADY", retriable: true })

      expect(yield* pm.exit.pipe(Effect.timeout("60 seconds"))).toEqual({ _tag: "Exited", code: 0 })
      yield* waitGone(engines)
      yield* orch.signal("SIGTERM")
      expect(yield* orch.exit.pipe(Effect.timeout("60 seconds"))).toEqual({ _tag: "Exited", code: 0 })
      expect([pm.pid, orch.pid, ...engines].filter(isAlive)).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer)),
  180_000
)
