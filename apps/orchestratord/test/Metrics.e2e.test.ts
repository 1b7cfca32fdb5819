/**
 * orchestratord's `/metrics` as Prometheus sees it, on the real daemon with its embedded mock pool:
 * `promtool check metrics` finds nothing before and after traffic, every name has the daemon's
 * prefix and a HELP, counters are typed `counter` and there at 0 before their first event,
 * durations are in seconds, and the process and Node.js runtime metrics are there.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, expect, it } from "@effect/vitest"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { Effect } from "effect"
import { fileURLToPath } from "node:url"
import { scrapeConformant } from "./fixtures/metrics.js"
import { privateStateHome, waitOk } from "./fixtures/processes.js"
import { readSse } from "./fixtures/sse.js"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const entry = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

/** The embedded pools are pool-managerd's, under pool-managerd's names. */
const scrape = (url: string) => scrapeConformant(url, ["orchestratord_", "pool_managerd_"])

const post = (url: string, body: unknown) =>
  Effect.promise(() =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
  )

const pool = `pool_id="mock-0",engine="mock"`

it.scopedLive(
  "orchestratord's /metrics passes promtool, with zero counters at start and seconds for durations",
  () =>
    Effect.gen(function*() {
      const daemon = yield* SpawnDaemon.spawnDaemon({
        entry,
        args: ["--port", "0"],
        env: yield* privateStateHome,
        cwd: root,
        startTimeout: "120 seconds"
      })
      yield* waitOk(`${daemon.url}/ready`)

      // before any task: every counter whose labels are known is there, at 0, typed counter
      const start = yield* scrape(daemon.url)
      const zeroes = [
        ["orchestratord_tasks_enqueued_total", `{priority="interactive"}`],
        ["orchestratord_tasks_enqueued_total", `{priority="batch"}`],
        ["orchestratord_tasks_canceled_total", `{priority="interactive"}`],
        ["orchestratord_tasks_rejected_total", `{reason="MODEL_NOT_FOUND"}`],
        ["orchestratord_tasks_rejected_total", `{reason="ADMISSION_REJECT"}`],
        ["orchestratord_tasks_rejected_total", `{reason="POOL_UNAVAILABLE"}`],
        ["orchestratord_admission_backpressure_events_total", `{policy="reject"}`],
        ["orchestratord_tasks_started_total", `{${pool},priority="interactive"}`],
        ["orchestratord_tasks_started_total", `{${pool},priority="batch"}`],
        ["orchestratord_tokens_in_total", `{${pool}}`],
        ["orchestratord_tokens_out_total", `{${pool}}`],
        ["pool_managerd_pool_restarts_total", `{${pool}}`]
      ] as const
      for (const [family, labels] of zeroes) {
        expect(start.families.get(family)?.type, family).toBe("counter")
        expect(start.value(family, labels), `${family}${labels}`).toBe(0)
      }
      for (const family of ["orchestratord_latency_first_token_seconds", "orchestratord_latency_decode_seconds"]) {
        expect(start.families.get(family)?.type, family).toBe("histogram")
        expect(start.value(family, `{${pool}}`, `${family}_count`), family).toBe(0)
      }
      // every *_total is a counter (and every counter a *_total); no name in milliseconds
      const names = [...start.families.keys()]
      expect(names.filter((n) => n.endsWith("_total") !== (start.families.get(n)?.type === "counter"))).toEqual([])
      expect(names.filter((n) => /_ms$|_ms_|millis/.test(n))).toEqual([])
      expect(names.filter((n) => n.startsWith("effect_"))).toEqual([])
      // the process and the Node.js runtime
      expect(start.families.get("process_cpu_seconds_total")?.type).toBe("counter")
      for (
        const family of [
          "process_resident_memory_bytes",
          "process_start_time_seconds",
          "process_open_fds",
          "nodejs_eventloop_lag_seconds",
          "nodejs_heap_size_used_bytes"
        ]
      ) {
        expect(start.families.get(family)?.type, family).toBe("gauge")
      }
      expect(start.value("process_open_fds", "")).toBeGreaterThan(0)

      // traffic: a task streamed to its end, and one refused
      const accepted = yield* post(`${daemon.url}/v2/tasks`, { model_ref: "mock-model", prompt: "hi", max_tokens: 4 })
      expect(accepted.status).toBe(202)
      const body: unknown = yield* Effect.promise(() => accepted.json())
      assert(typeof body === "object" && body !== null && "task_id" in body)
      const events = yield* Effect.promise(() =>
        fetch(`${daemon.url}/v2/tasks/${String(body.task_id)}/events`).then(readSse)
      )
      expect(events.events.at(-1)?.event).toBe("end")
      const refused = yield* post(`${daemon.url}/v2/tasks`, { model_ref: "no-such-model", prompt: "hi", max_tokens: 4 })
      expect(refused.status).toBe(404)

      const after = yield* scrape(daemon.url)
      expect(after.value("orchestratord_tasks_enqueued_total", `{priority="interactive"}`)).toBe(1)
      expect(after.value("orchestratord_tasks_started_total", `{${pool},priority="interactive"}`)).toBe(1)
      expect(after.value("orchestratord_tokens_out_total", `{${pool}}`)).toBe(4)
      expect(after.value("orchestratord_tasks_rejected_total", `{reason="MODEL_NOT_FOUND"}`)).toBe(1)
      expect(after.value("orchestratord_tasks_rejected_total", `{reason="ADMISSION_REJECT"}`)).toBe(0)
      // one short task on a local mock engine: a fraction of a second, counted in seconds
      for (const family of ["orchestratord_latency_first_token_seconds", "orchestratord_latency_decode_seconds"]) {
        expect(after.value(family, `{${pool}}`, `${family}_count`), family).toBe(1)
        const sum = after.value(family, `{${pool}}`, `${family}_sum`)
        expect(sum, family).toBeGreaterThan(0)
        expect(sum, family).toBeLessThan(30)
        expect(after.value(family, `{${pool},le="+Inf"}`, `${family}_bucket`), family).toBe(1)
      }

      yield* daemon.signal("SIGTERM")
      expect(yield* daemon.exit.pipe(Effect.timeout("60 seconds"))).toEqual({ _tag: "Exited", code: 0 })
    }).pipe(Effect.provide(NodeContext.layer)),
  180_000
)
