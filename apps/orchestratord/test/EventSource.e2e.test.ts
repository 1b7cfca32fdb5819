/**
 * A task's event stream read by a browser-like `EventSource` (the `eventsource` package) from
 * orchestratord as a real process on the mock engine: an ended task's stream is replayed once and
 * then answered 204, so the EventSource closes instead of reconnecting every `retry:` forever; a
 * failure arrives as `failed`, which does not reach `onerror` (an event named `error` does).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import type { SpawnDaemon } from "@llama-orch/daemon-kit"
import { Context, Effect, Layer } from "effect"
import { spawnDefaultDaemon, submit } from "./fixtures/daemon.js"
import { type Received, watch } from "./fixtures/eventSource.js"
import { nth, readSse } from "./fixtures/sse.js"

class Daemon extends Context.Tag("test/Daemon")<Daemon, SpawnDaemon.RunningDaemon>() {}

const DaemonLive = Layer.scoped(Daemon, spawnDefaultDaemon).pipe(Layer.provide(NodeContext.layer))

const taskEvents = ["started", "metrics", "token", "end", "failed"]

const eventsOf = (url: string, lastEventId?: string) =>
  Effect.promise(async () => {
    const response = await fetch(url, lastEventId === undefined ? {} : { headers: { "last-event-id": lastEventId } })
    return { status: response.status, ...(await readSse(response)) }
  })

/** Posts a cancel for the task, once. */
const cancelOnce = (url: string, taskId: string) => {
  let sent = false
  return (event: Received) => {
    if (event.type !== "token" || sent) return
    sent = true
    void fetch(`${url}/v2/tasks/${taskId}/cancel`, { method: "POST" })
  }
}

layer(DaemonLive, { excludeTestServices: true, timeout: 180_000 })("EventSource against orchestratord", (it) => {
  it.scoped(
    "an ended task's stream replays every event once, then answers 204 and the EventSource stops reconnecting",
    () =>
      Effect.gen(function*() {
        const { url } = yield* Daemon
        const { taskId } = yield* submit(url, { max_tokens: 5 })
        const stream = `${url}/v2/tasks/${taskId}/events`
        // read to the end first: the task has ended when the stream does
        const first = yield* eventsOf(stream)
        expect(nth(first.events, -1).event).toBe("end")
        const lastId = nth(first.events, -1).id ?? ""
        expect(Number(lastId)).toBe(first.events.length)

        // a reconnect that has seen everything gets 204 and no body; one that has not, the rest
        const done = yield* eventsOf(stream, lastId)
        expect(done).toMatchObject({ status: 204, events: [], comments: [] })
        const past = yield* eventsOf(stream, String(Number(lastId) + 10))
        expect(past.status).toBe(204)
        const rest = yield* eventsOf(stream, String(Number(lastId) - 1))
        expect(rest.status).toBe(200)
        expect(rest.events.map((e) => [e.id, e.event])).toEqual([[lastId, "end"]])
        // without Last-Event-ID the retained events are replayed, as before
        const again = yield* eventsOf(stream)
        expect(again.status).toBe(200)
        expect(again.events).toEqual(first.events)

        const es = yield* watch(stream, taskEvents, { maxRequests: 2 })
        yield* es.closed
        expect(es.source.readyState).toBe(es.source.CLOSED)
        expect(es.events).toEqual(first.events.map((e) => ({ type: e.event, data: e.data, lastEventId: e.id })))
        // two requests in all: the replay, then the reconnect with the last id, answered 204
        expect(es.requests).toEqual([{ lastEventId: undefined, status: 200 }, { lastEventId: lastId, status: 204 }])
        // onerror: once for the reconnect after the replay ended, once for the 204 that closed it
        expect(es.errors.map((e) => [e.message, e.readyState])).toEqual([[false, es.source.CONNECTING], [
          false,
          es.source.CLOSED
        ]])
      }),
    60_000
  )

  it.scoped(
    "a cancelled task's failure arrives as `failed`, not through onerror, and the EventSource then closes on 204",
    () =>
      Effect.gen(function*() {
        const { url } = yield* Daemon
        const { taskId } = yield* submit(url, { max_tokens: 2000 })
        const es = yield* watch(`${url}/v2/tasks/${taskId}/events`, taskEvents, {
          maxRequests: 2,
          onEvent: cancelOnce(url, taskId)
        })
        yield* es.closed
        const failed = nth(es.events, -1)
        expect(failed.type).toBe("failed")
        expect(JSON.parse(failed.data)).toMatchObject({ code: "CANCELLED", retriable: false })
        expect(es.events.filter((e) => e.type === "token").length).toBeGreaterThan(0)
        // onerror fired only for the connection (after the stream ended), never with an event
        expect(es.errors.every((e) => !e.message && e.after === es.events.length)).toBe(true)
        expect(es.errors).toHaveLength(2)
        expect(es.requests).toEqual([
          { lastEventId: undefined, status: 200 },
          { lastEventId: failed.lastEventId, status: 204 }
        ])
      }),
    60_000
  )

  it.scoped(
    "?legacy_error_event=1 names the failure `error` as before, which EventSource hands to onerror",
    () =>
      Effect.gen(function*() {
        const { url } = yield* Daemon
        const { taskId } = yield* submit(url, { max_tokens: 2000 })
        const es = yield* watch(`${url}/v2/tasks/${taskId}/events?legacy_error_event=1`, taskEvents, {
          maxRequests: 2,
          onEvent: cancelOnce(url, taskId)
        })
        yield* es.closed
        expect(es.events.map((e) => e.type)).not.toContain("failed")
        const [legacy, ...connection] = es.errors
        expect(legacy?.message).toBe(true)
        expect(JSON.parse(legacy?.data ?? "{}")).toMatchObject({ code: "CANCELLED", retriable: false })
        expect(connection.map((e) => e.message)).toEqual([false, false])
        expect(es.requests.map((r) => r.status)).toEqual([200, 204])
        // anything but 0 or 1 is refused
        const bad = yield* Effect.promise(() => fetch(`${url}/v2/tasks/${taskId}/events?legacy_error_event=yes`))
        expect(bad.status).toBe(400)
      }),
    60_000
  )
})
