import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Fiber, HashMap, Logger, Scope, Stream, TestClock } from "effect"
import * as Schema from "effect/Schema"
import { End, Failed, Metrics, SequencedEvent, Started, Token } from "../src/index.js"
import { llamaTokens, poolStatus, type Script } from "./helpers/fakes.js"
import { collect, harness, settle, tags, task, until } from "./helpers/harness.js"

const hang: Script = { events: [], then: "hang" }

interface Logged {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** A logger that keeps what it is given, and the layer that installs it. */
const collectLogs = () => {
  const logged: Array<Logged> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    logged.push({
      level: logLevel.label,
      message: String(Array.isArray(message) ? message[0] : message),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  return { logged, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe("Orchestrator (fake engine, TestClock)", () => {
  it.effect("streams started, dispatch metrics, consecutive tokens and one end, with ids from 1", () =>
    Effect.gen(function*() {
      const h = yield* harness([poolStatus("p1")], () => llamaTokens(["a", "b", "c"]))
      const admission = yield* h.orchestrator.submit(task({ seed: 7, stop: ["\n"] }))
      expect(admission.queuePosition).toBe(0)
      const events = yield* collect(h.orchestrator.events(admission.taskId))
      expect(tags(events)).toEqual(["started", "metrics", "token", "token", "token", "end"])
      expect(events.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6])
      // the events are built as plain literals on the hot path: each must still be what the schema says
      expect(events.filter((e) => !Schema.is(SequencedEvent)(e))).toEqual([])
      const tokens = events.flatMap((e) => Schema.is(Token)(e.event) ? [e.event] : [])
      expect(tokens.map((t) => [t.t, t.i])).toEqual([["a", 0], ["b", 1], ["c", 2]])
      const dispatch = events[1].event
      expect(Schema.is(Metrics)(dispatch) && dispatch.poolId).toBe("p1")
      const end = events[5].event
      expect(Schema.is(End)(end) && [end.tokensOut, end.tokensIn]).toEqual([3, 3])
      expect(h.log.requests[0]).toEqual({
        url: "http://engine.test/completion",
        body: { prompt: "hello", n_predict: 8, stream: true, seed: 7, stop: ["\n"] }
      })
      const snapshot = yield* h.orchestrator.get(admission.taskId)
      expect([snapshot.state, snapshot.tokensOut, snapshot.poolId]).toEqual(["completed", 3, "p1"])
      yield* until(() => h.counters.active.get("p1") === 0)
      expect(h.counters.active.get("p1")).toBe(0)
      yield* h.close
    }))

  it.effect("resumes after a given id, and forgets the task once retention has passed", () =>
    Effect.gen(function*() {
      const h = yield* harness([poolStatus("p1")], () => llamaTokens(["a", "b"]), { retentionMs: 60_000 })
      const { taskId } = yield* h.orchestrator.submit(task())
      const all = yield* collect(h.orchestrator.events(taskId))
      const rest = yield* collect(h.orchestrator.events(taskId, { afterId: 3 }))
      expect(rest).toEqual(all.slice(3))
      expect(yield* collect(h.orchestrator.events(taskId, { afterId: all.length }))).toEqual([])
      yield* TestClock.adjust("59 seconds")
      expect((yield* h.orchestrator.get(taskId)).state).toBe("completed")
      yield* TestClock.adjust("2 seconds")
      const gone = yield* Effect.either(h.orchestrator.get(taskId))
      expect(Either.isLeft(gone) && gone.left._tag).toBe("TaskNotFound")
      const stream = yield* Effect.either(Stream.runCollect(h.orchestrator.events(taskId)))
      expect(Either.isLeft(stream) && stream.left._tag).toBe("TaskNotFound")
      yield* h.close
    }))

  it.effect("a live follower sees every event exactly once, joining mid-stream", () =>
    Effect.gen(function*() {
      const h = yield* harness([poolStatus("p1", { slots: 1 })], (i) => i === 0 ? hang : llamaTokens(["x", "y"]))
      const first = yield* h.orchestrator.submit(task())
      const second = yield* h.orchestrator.submit(task())
      const follower = yield* Effect.fork(Stream.runCollect(h.orchestrator.events(second.taskId, { afterId: 1 })))
      yield* settle
      yield* h.orchestrator.cancel(first.taskId)
      const events = yield* collect(h.orchestrator.events(second.taskId))
      const followed = Array.from(yield* Fiber.join(follower))
      expect(followed).toEqual(events.slice(1))
      expect(tags(events)).toEqual(["started", "metrics", "token", "token", "end"])
      yield* h.close
    }))

  it.effect("subscribe pushes retained then live events once each, in order; its scope ends it; a throwing listener only loses its own", () =>
    Effect.gen(function*() {
      const h = yield* harness([poolStatus("p1", { slots: 1 })], (i) => i === 0 ? hang : llamaTokens(["x", "y"]))
      const first = yield* h.orchestrator.submit(task())
      const second = yield* h.orchestrator.submit(task())
      const pushed: Array<SequencedEvent> = []
      const early: Array<SequencedEvent> = []
      const earlyScope = yield* Scope.make()
      // joins while the task waits: the retained `started` comes at once
      const ended = yield* h.orchestrator.subscribe(second.taskId, (e) => pushed.push(e))
        .pipe(Scope.extend(yield* Scope.make()))
      yield* h.orchestrator.subscribe(second.taskId, (e) => early.push(e)).pipe(Scope.extend(earlyScope))
      // a listener that throws while replaying is never registered; one that throws on a live
      // event is dropped after that one call
      yield* h.orchestrator.subscribe(second.taskId, () => {
        throw new Error("a broken listener")
      }).pipe(Scope.extend(yield* Scope.make()))
      const brokenLive = { calls: 0 }
      yield* h.orchestrator.subscribe(second.taskId, (e) => {
        if (e.event._tag === "started") return
        brokenLive.calls++
        throw new Error("a listener broken on live events")
      }).pipe(Scope.extend(yield* Scope.make()))
      expect(ended).toBe(false)
      expect(tags(pushed)).toEqual(["started"])
      yield* Scope.close(earlyScope, Exit.void)
      yield* h.orchestrator.cancel(first.taskId)
      yield* until(() => pushed.length === 5)
      const events = yield* collect(h.orchestrator.events(second.taskId))
      expect(pushed).toEqual(events)
      expect(tags(early)).toEqual(["started"])
      expect(brokenLive.calls).toBe(1)
      // a finished task: the retained events after `afterId`, and `true` (no call follows)
      const replayed: Array<SequencedEvent> = []
      const done = yield* h.orchestrator.subscribe(second.taskId, (e) => replayed.push(e), { afterId: 4 })
        .pipe(Effect.scoped)
      expect(done).toBe(true)
      expect(replayed).toEqual(events.slice(4))
      const missing = yield* Effect.either(h.orchestrator.subscribe("nope", () => {}).pipe(Effect.scoped))
      expect(Either.isLeft(missing) && missing.left._tag).toBe("TaskNotFound")
      yield* h.close
    }))

  it.effect("cancel of a queued task removes it; of a running task aborts the engine request and frees the slot", () =>
    Effect.gen(function*() {
      const h = yield* harness([poolStatus("p1", { slots: 1 })], () => hang)
      const running = yield* h.orchestrator.submit(task())
      const queued = yield* h.orchestrator.submit(task())
      yield* until(() => h.log.requests.length === 1)
      expect((yield* h.orchestrator.queueDepths).get("m")).toBe(1)
      yield* h.orchestrator.cancel(queued.taskId)
      expect((yield* h.orchestrator.queueDepths).get("m")).toBe(0)
      const q = yield* collect(h.orchestrator.events(queued.taskId))
      // the first task was dispatched as it was admitted, so the second queued at the head
      expect(tags(q)).toEqual(["started", "failed"])
      const started = q[0].event
      expect(Schema.is(Started)(started) && started.queuePosition).toBe(0)
      expect(q[1].event).toEqual(
        Failed.make({ code: "CANCELLED", message: "cancelled by the client", retriable: false })
      )

      yield* h.orchestrator.cancel(running.taskId)
      expect(h.log.aborted).toBe(1)
      expect(h.counters.active.get("p1")).toBe(0)
      const r = yield* collect(h.orchestrator.events(running.taskId))
      expect(tags(r)).toEqual(["started", "metrics", "failed"])
      yield* h.orchestrator.cancel(running.taskId)
      expect((yield* collect(h.orchestrator.events(running.taskId))).length).toBe(3)
      expect(h.log.requests.length).toBe(1)
      yield* h.close
    }))

  it.effect("first-token timeout, idle timeout and the deadline end a task with DECODE_TIMEOUT", () =>
    Effect.gen(function*() {
      const scripts: Array<Script> = [
        hang,
        { events: [JSON.stringify({ content: "a", stop: false })], then: "hang" },
        { events: [JSON.stringify({ content: "a", stop: false })], then: "hang" }
      ]
      const h = yield* harness([poolStatus("p1", { slots: 3 })], (i) => scripts[i], {
        firstTokenTimeoutMs: 2_000,
        idleTimeoutMs: 1_000
      })
      const first = yield* h.orchestrator.submit(task())
      const idle = yield* h.orchestrator.submit(task())
      const deadline = yield* h.orchestrator.submit(task({ deadline_ms: 500 }))
      const started = yield* TestClock.currentTimeMillis
      const codes = yield* Effect.forEach([first, idle, deadline], (a) =>
        collect(h.orchestrator.events(a.taskId)).pipe(
          Effect.zip(TestClock.currentTimeMillis),
          Effect.map(([events, at]) => ({ last: events.at(-1)?.event, at: at - started }))
        ), { concurrency: "unbounded" })
      const [f, i, d] = codes
      expect(Schema.is(Failed)(f.last) && [f.last.code, f.last.retriable]).toEqual(["DECODE_TIMEOUT", true])
      expect(Schema.is(Failed)(i.last) && [i.last.code, i.last.retriable]).toEqual(["DECODE_TIMEOUT", true])
      expect(Schema.is(Failed)(d.last) && [d.last.code, d.last.retriable]).toEqual(["DECODE_TIMEOUT", false])
      expect(d.at).toBeGreaterThanOrEqual(500)
      expect(d.at).toBeLessThan(1_000)
      expect(i.at).toBeGreaterThanOrEqual(1_000)
      expect(f.at).toBeGreaterThanOrEqual(2_000)
      yield* until(() => h.counters.active.get("p1") === 0)
      expect(h.counters.active.get("p1")).toBe(0)
      expect(h.log.aborted).toBe(3)
      yield* h.close
    }))

  it.effect("an engine that fails before the first token gets the task placed again, once", () =>
    Effect.gen(function*() {
      const broken: Script = { events: [], then: "break" }
      const h = yield* harness(
        [poolStatus("p1", { slots: 1 }), poolStatus("p2", { slots: 1 })],
        (i) => i === 0 || i === 2 || i === 3 ? broken : llamaTokens(["a", "b"]),
        { leaseRetryMs: 50 }
      )
      // the first attempt breaks before any token; the second runs to the end
      const first = yield* h.orchestrator.submit(task())
      const events = yield* collect(h.orchestrator.events(first.taskId))
      expect(tags(events)).toEqual(["started", "metrics", "requeued", "metrics", "token", "token", "end"])
      expect(events[2]?.event).toMatchObject({ _tag: "requeued", reason: expect.stringMatching(/connection/) })
      // at most once: a task whose two attempts break ends with WORKER_RESET
      const second = yield* h.orchestrator.submit(task())
      const again = yield* collect(h.orchestrator.events(second.taskId))
      expect(tags(again)).toEqual(["started", "metrics", "requeued", "metrics", "failed"])
      expect(again.at(-1)?.event).toMatchObject({ code: "WORKER_RESET", retriable: true })
      yield* h.close
    }))

  it.effect("an engine that breaks, refuses or sends garbage ends the task with WORKER_RESET", () => {
    const { layer, logged } = collectLogs()
    return Effect.gen(function*() {
      const scripts: Array<Script> = [
        // a broken connection before the first token: placed again once, and the second break ends it
        { events: [], then: "break" },
        { events: [], then: "break" },
        // refused or unreadable: never placed again
        { status: 400, events: [], then: "close" },
        { events: ["{not json"], then: "close" },
        // cut after a token
        { events: [JSON.stringify({ content: "a", stop: false })], then: "close" }
      ]
      const h = yield* harness([poolStatus("p1", { slots: 4 })], (i) => scripts[i] ?? llamaTokens(["x"]))
      const ids: Array<string> = []
      for (let n = 0; n < 4; n++) {
        const { taskId } = yield* h.orchestrator.submit(task())
        ids.push(taskId)
        const events = yield* collect(h.orchestrator.events(taskId))
        const last = events.at(-1)?.event
        expect(Schema.is(Failed)(last) && [last.code, last.retriable]).toEqual(["WORKER_RESET", true])
      }
      yield* until(() => h.counters.active.get("p1") === 0)
      expect(h.counters.active.get("p1")).toBe(0)
      yield* h.close
      // each failure is a warning naming the task, the pool and the engine
      const warnings = logged.filter((l) => l.level === "WARN" && l.message.startsWith("Task failed"))
      expect(warnings.map((l) => l.annotations.task_id)).toEqual(ids)
      for (const w of warnings) {
        expect(w.message).toMatch(/^Task failed with WORKER_RESET: engine at http:\/\/engine\.test\/completion failed/)
        expect(w.annotations).toMatchObject({ pool_id: "p1", engine: "fake", code: "WORKER_RESET" })
      }
    }).pipe(Effect.provide(layer))
  })

  it.effect("closing the layer ends every open task and releases every lease", () =>
    Effect.gen(function*() {
      const h = yield* harness([poolStatus("p1", { slots: 1 })], () => hang)
      const running = yield* h.orchestrator.submit(task())
      const queued = yield* h.orchestrator.submit(task())
      yield* until(() => h.log.requests.length === 1)
      const followers = yield* Effect.forEach(
        [running, queued],
        (a) => Effect.fork(Stream.runCollect(h.orchestrator.events(a.taskId)))
      )
      yield* settle
      yield* h.close
      for (const f of followers) {
        const last = Array.from(yield* Fiber.join(f)).at(-1)?.event
        expect(Schema.is(Failed)(last) && [last.code, last.retriable]).toEqual(["CANCELLED", true])
      }
      expect(h.counters.active.get("p1")).toBe(0)
      expect(h.log.aborted).toBe(1)
      const late = yield* Effect.either(h.orchestrator.submit(task()))
      expect(Either.isLeft(late) && late.left._tag).toBe("PoolsUnavailable")
    }))
})
