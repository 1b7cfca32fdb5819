import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Fiber, Schedule } from "effect"
import { MockEngine } from "../src/index.js"
import { getJson, HttpFailure, isAlive, payloads, postSse, TestLayer, withEngine } from "./helpers.js"

const timeout = 120_000

describe("mock-engine process lifecycle and faults", () => {
  it.scopedLive(
    "--load-ms: /health answers 503 while loading, then 200, with loading logs",
    () =>
      withEngine({ loadMs: 6000 }, (engine) =>
        Effect.gen(function*() {
          const loading = yield* getJson(`${engine.url}/health`)
          expect(loading).toEqual({
            status: 503,
            body: { error: { code: 503, message: "Loading model", type: "unavailable_error" } }
          })
          const completion = yield* getJson(`${engine.url}/props`)
          expect(completion.status).toBe(503)
          const ready = yield* getJson(`${engine.url}/health`).pipe(
            Effect.filterOrFail((res) => res.status === 200, () => new HttpFailure({ message: "still loading" })),
            Effect.retry(Schedule.spaced(Duration.millis(100)).pipe(Schedule.intersect(Schedule.recurs(600))))
          )
          expect(ready.body).toEqual({ status: "ok" })
          expect(yield* engine.stderrTail).toContain("loading tensors")
        })).pipe(Effect.provide(TestLayer)),
    timeout
  )

  it.scopedLive(
    "--hang-health: /health never answers while other routes do",
    () =>
      withEngine({ hangHealth: true }, (engine) =>
        Effect.gen(function*() {
          const health = yield* getJson(`${engine.url}/health`).pipe(
            Effect.timeout(Duration.seconds(2)),
            Effect.either
          )
          expect(Either.isLeft(health) && health.left._tag).toBe("TimeoutException")
          const props = yield* getJson(`${engine.url}/props`)
          expect(props.status).toBe(200)
        })).pipe(Effect.provide(TestLayer)),
    timeout
  )

  it.scopedLive(
    "--crash-on-start: exits with --exit-code and explains on stderr, never listening",
    () =>
      Effect.gen(function*() {
        const result = yield* Effect.scoped(MockEngine.start({ crashOnStart: true, exitCode: 3, model: "broken" }))
          .pipe(
            Effect.flip
          )
        expect(result).toBeInstanceOf(MockEngine.MockEngineStartError)
        expect(result.reason).toBe("Exited")
        expect(result.exitCode).toBe(3)
        expect(result.stderrTail).toContain("error: failed to load model 'broken'")
      }).pipe(Effect.provide(TestLayer)),
    timeout
  )

  it.scopedLive(
    "--crash-during-load: listens, answers /health 503 while loading, then exits with --exit-code",
    () =>
      Effect.gen(function*() {
        const engine = yield* MockEngine.start({ crashDuringLoad: true, loadMs: 600, exitCode: 3, model: "half" })
        expect((yield* getJson(`${engine.url}/health`)).status).toBe(503)
        expect(yield* engine.exitCode).toBe(3)
        expect(yield* engine.stderrTail).toContain("simulated failure (--crash-during-load)")
      }).pipe(Effect.provide(TestLayer)),
    timeout
  )

  it.scopedLive("SIGTERM exits 0 promptly even with a hung request open", () =>
    Effect.gen(function*() {
      let pid = 0
      const code = yield* Effect.scoped(Effect.gen(function*() {
        const engine = yield* MockEngine.start({ hangHealth: true })
        pid = engine.pid
        const pending = yield* Effect.fork(getJson(`${engine.url}/health`).pipe(Effect.either))
        // the engine says when it holds the request: SIGTERM comes with it open
        yield* engine.stderrTail.pipe(
          Effect.filterOrFail((tail) => tail.includes("health: request held open")),
          Effect.retry(Schedule.spaced(Duration.millis(10)))
        )
        yield* engine.signal("SIGTERM")
        const code = yield* engine.exitCode
        // The open /health request is cut, not answered.
        const health = yield* Fiber.join(pending)
        expect(Either.isLeft(health)).toBe(true)
        return code
      }))
      expect(code).toBe(0)
      expect(isAlive(pid)).toBe(false)
    }).pipe(Effect.provide(TestLayer)), timeout)

  it.scopedLive(
    "--ignore-sigterm: survives SIGTERM, dies on SIGKILL",
    () =>
      withEngine({ ignoreSigterm: true }, (engine) =>
        Effect.gen(function*() {
          yield* engine.signal("SIGTERM")
          const logged = yield* engine.stderrTail.pipe(
            Effect.filterOrFail((tail) => tail.includes("received SIGTERM, ignoring it"), () => "not yet"),
            Effect.retry(Schedule.spaced(Duration.millis(100)).pipe(Schedule.intersect(Schedule.recurs(300))))
          )
          expect(logged).toContain("ignoring")
          expect(yield* engine.isRunning).toBe(true)
          expect((yield* getJson(`${engine.url}/health`)).status).toBe(200)
          yield* engine.signal("SIGKILL")
          const exit = yield* Effect.either(engine.exitCode)
          expect(Either.isLeft(exit)).toBe(true)
          expect(yield* engine.isRunning).toBe(false)
        })).pipe(Effect.provide(TestLayer)),
    timeout
  )

  it.scopedLive(
    "--crash-after-tokens: the process dies mid-stream after the N-th token",
    () =>
      withEngine({ crashAfterTokens: 5, exitCode: 7, tps: 50 }, (engine) =>
        Effect.gen(function*() {
          const result = yield* postSse(`${engine.url}/completion`, { prompt: "x", n_predict: 20, stream: true })
          const events = payloads(result)
          expect(events).toHaveLength(5)
          expect(events.every((event) => event.stop === false)).toBe(true)
          expect(result.broken).toBe(true)
          expect(yield* engine.exitCode).toBe(7)
          expect(yield* engine.stderrTail).toContain("simulated crash after 5 tokens")
        })).pipe(Effect.provide(TestLayer)),
    timeout
  )
})
