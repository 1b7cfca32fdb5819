/**
 * The embedded manager's `PoolConfigurator`: a daemon reloading its file replaces the engine
 * profiles (later registrations use them; an engine no longer configured is refused) and announces
 * its steps on the pool event stream.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Exit } from "effect"
import { readFileSync } from "node:fs"
import { EngineNotAllowed, PoolConfigurator, PoolId, PoolManager, PoolNotFound, PoolSpec } from "../src/index.js"
import { fakeProfile, withManager } from "./support/harness.js"

const spec = (id: string, engine: string) =>
  new PoolSpec({ id: PoolId.make(id), engine, model: "tiny", preload: false })

describe("embedded pool manager: configurator", () => {
  it.live("new profiles are used by later registrations, and steps are announced as pool events", () =>
    withManager({ profiles: [fakeProfile("fake")] }, () =>
      Effect.gen(function*() {
        const pools = yield* PoolManager
        const configurator = yield* PoolConfigurator
        const refused = yield* Effect.either(pools.register(spec("p", "added")))
        expect(Either.isLeft(refused) && refused.left instanceof EngineNotAllowed).toBe(true)

        yield* configurator.setProfiles([fakeProfile("added", ["--fail-model", "marker-of-the-new-profile"])])
        expect((yield* configurator.profiles).map((profile) => profile.name)).toEqual(["added"])
        // the old engine is no longer configured
        const gone = yield* Effect.either(pools.register(spec("q", "fake")))
        expect(Either.isLeft(gone) && gone.left instanceof EngineNotAllowed).toBe(true)
        yield* pools.register(spec("p", "added"))
        const handoff = yield* pools.preload(PoolId.make("p"))
        expect(readFileSync(`/proc/${handoff.pid}/cmdline`, "utf8")).toContain("marker-of-the-new-profile")

        // the manager hands every event to a watcher in the step that makes it
        const subscribed = yield* Deferred.make<void>()
        const announced = yield* Deferred.make<string>()
        yield* pools.watch((event) => {
          if (event._tag === "Snapshot") Deferred.unsafeDone(subscribed, Exit.void)
          else if (event.reason.startsWith("config-reload")) {
            Deferred.unsafeDone(announced, Exit.succeed(`${event.status.poolId} ${event.reason}`))
          }
        }).pipe(Effect.forkScoped)
        yield* Deferred.await(subscribed)
        yield* configurator.announce(PoolId.make("p"), "config-reload-restart")
        expect(yield* Deferred.await(announced)).toBe("p config-reload-restart")
        expect(yield* Effect.flip(configurator.announce(PoolId.make("nope"), "x"))).toBeInstanceOf(PoolNotFound)
      })))
})
