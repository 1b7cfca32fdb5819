/**
 * A model that takes seconds to load, behind a real orchestratord process: waiting tasks see the
 * load move (`loading` events on /v2, comments on /v1 streams), and the second load of the model
 * comes with an ETA from the first.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Context, Effect, Layer, Schedule } from "effect"
import { post, spawnWithConfig } from "./fixtures/daemon.js"
import { readSse } from "./fixtures/sse.js"

class Daemon extends Context.Tag("test/Daemon")<Daemon, { readonly url: string }>() {}

const DaemonLive = Layer.scoped(
  Daemon,
  Effect.gen(function*() {
    const daemon = yield* spawnWithConfig([
      "engines: [{ name: slow, mock: true, args: [\"--load-ms\", \"3000\"] }]",
      "pools: [{ id: slow-0, engine: slow, model: big-model, slots: 2 }]"
    ])
    return { url: daemon.url }
  })
).pipe(Layer.provide(NodeContext.layer))

const json = (response: Response) => Effect.promise((): Promise<unknown> => response.json())

const firstPool = (url: string) =>
  Effect.promise(() =>
    fetch(`${url}/v2/pools`).then((r) => r.json() as Promise<{ pools: Array<{ state: string; loading?: unknown }> }>)
  ).pipe(Effect.map((body) => body.pools[0]))

/** Waits until the pool is in `state` (and, with `loading`, has reported its load's progress). */
const waitState = (url: string, state: string, loading = false) =>
  firstPool(url).pipe(
    Effect.filterOrFail((p) => p?.state === state && (!loading || p.loading !== undefined)),
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("60 seconds"))),
    Effect.orDie
  )

layer(DaemonLive, { excludeTestServices: true, timeout: 120_000 })("waiting for a model that loads", (it) => {
  it.effect("tasks see loading events and /v1 streams loading comments; the next load has an ETA", () =>
    Effect.gen(function*() {
      const { url } = yield* Daemon
      yield* waitState(url, "Starting")
      const accepted = yield* post(`${url}/v2/tasks`, { model_ref: "big-model", prompt: "hi", max_tokens: 2 })
      expect(accepted.status).toBe(202)
      const { task_id } = (yield* json(accepted)) as { task_id: string }
      const chat = Effect.promise(() =>
        fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            model: "big-model",
            max_tokens: 2,
            stream: true,
            messages: [{ role: "user", content: "hi" }]
          })
        }).then((r) => r.text())
      )
      const [events, text] = yield* Effect.all([
        Effect.promise(() => fetch(`${url}/v2/tasks/${task_id}/events`).then(readSse)).pipe(
          Effect.map((r) => r.events)
        ),
        chat
      ], { concurrency: 2 })
      const kinds = events.map((e) => e.event)
      expect(kinds.indexOf("loading")).toBeGreaterThan(0)
      expect(kinds.indexOf("loading")).toBeLessThan(kinds.indexOf("token"))
      const loading = events.filter((e) => e.event === "loading").map((e): unknown => JSON.parse(e.data))
      expect(loading[0]).toMatchObject({ pool_id: "slow-0", elapsed_ms: expect.any(Number) })
      // the mock's own "loading tensors ... N%" lines
      expect(loading.some((l) => /loading tensors/.test(String((l as { progress?: unknown }).progress)))).toBe(true)
      expect(text).toMatch(/^: loading slow-0: \d+\.\d s/m)
      expect(text.indexOf(": loading")).toBeLessThan(text.indexOf("data: {"))
      expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true)

      // drain, then load again: the wait now has an ETA from the first load
      expect((yield* post(`${url}/v2/pools/slow-0/drain`, { deadline_ms: 1_000 })).status).toBe(202)
      yield* waitState(url, "Stopped")
      const preload = yield* Effect.fork(post(`${url}/v2/pools/slow-0/preload`, {}))
      // Starting is published before the engine is spawned; its first progress report (with the
      // previous load's duration) follows the spawn, and only then can admission count the load
      yield* waitState(url, "Starting", true)
      const again = yield* post(`${url}/v2/tasks`, { model_ref: "big-model", prompt: "hi", max_tokens: 2 })
      const admitted = (yield* json(again)) as { task_id: string; predicted_start_ms: number }
      const second = yield* Effect.promise(() => fetch(`${url}/v2/tasks/${admitted.task_id}/events`).then(readSse))
      const withEta = second.events.filter((e) => e.event === "loading").map((e): unknown => JSON.parse(e.data))
      expect(withEta.length).toBeGreaterThan(0)
      for (const l of withEta) expect(l).toMatchObject({ eta_ms: expect.any(Number) })
      // the predicted start counted the load's time left, as the later reports show it
      const firstEta = (withEta[0] as { eta_ms: number }).eta_ms
      expect(firstEta).toBeGreaterThan(0)
      expect(admitted.predicted_start_ms).toBeGreaterThanOrEqual(firstEta)
      expect(second.events.at(-1)?.event).toBe("end")
      yield* preload.await
    }))
})
