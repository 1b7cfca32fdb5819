import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber } from "effect"
import { singleFlight } from "../src/internal/singleFlight.js"
import { settle } from "./helpers/harness.js"

describe("singleFlight", () => {
  it.effect("callers that overlap share one run, its failure included; an interrupted leader hands over", () =>
    Effect.gen(function*() {
      const runs = { count: 0 }
      const gate = yield* Effect.makeLatch(false)
      const outcome = { fail: false }
      const shared = singleFlight(Effect.suspend(() => {
        runs.count++
        const n = runs.count
        return gate.await.pipe(Effect.zipRight(outcome.fail ? Effect.fail(`failed ${n}`) : Effect.succeed(n)))
      }))
      const callers = (n: number) => Effect.forEach(Array.from({ length: n }), () => Effect.fork(Effect.either(shared)))

      const overlapping = yield* callers(5)
      yield* settle
      yield* gate.open
      expect((yield* Effect.forEach(overlapping, Fiber.join)).map(Either.getOrThrow)).toEqual([1, 1, 1, 1, 1])

      yield* gate.close
      outcome.fail = true
      const failing = yield* callers(3)
      yield* settle
      yield* gate.open
      expect((yield* Effect.forEach(failing, Fiber.join)).map((r) => Either.isLeft(r) && r.left)).toEqual(
        Array(3).fill("failed 2")
      )

      // the caller that started the run is interrupted: the others start a run of their own
      yield* gate.close
      outcome.fail = false
      const [leader, ...waiting] = yield* callers(3)
      yield* settle
      if (leader !== undefined) yield* Fiber.interrupt(leader)
      yield* settle
      yield* gate.open
      expect((yield* Effect.forEach(waiting, Fiber.join)).map(Either.getOrThrow)).toEqual([4, 4])
      expect(runs.count).toBe(4)
    }))
})
