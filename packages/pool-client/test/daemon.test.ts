/**
 * Failure behaviour across real processes: a lease holder killed with SIGKILL, a daemon killed with
 * SIGKILL and restarted on the same port and state directory, and bearer-token auth. Every process
 * a test starts is checked gone at its end.
 */
import { Command } from "@effect/platform"
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Processes } from "@llama-orch/daemon-kit"
import {
  type Handoff,
  PoolId,
  PoolManager,
  PoolManagerUnavailable,
  PoolSpec,
  Snapshot,
  Unauthorized
} from "@llama-orch/pool-core"
import { Deferred, Effect, Layer, Redacted, Ref, Schema, Stream } from "effect"
import { fileURLToPath } from "node:url"
import { PoolClient } from "../src/index.js"
import { awaitStatus } from "./contract/poolManagerContract.js"
import { makeHome, plainEngine, startDaemon } from "./support/daemon.js"

const token = Redacted.make("daemon-failure-token-4f1c")
const p1 = Schema.decodeSync(PoolId)("p1")
const spec = Schema.decodeUnknownSync(PoolSpec)({ id: "p1", engine: plainEngine, model: "tiny", preload: false })
const holdLease = fileURLToPath(new URL("./fixtures/holdLease.ts", import.meta.url))
const timeout = 240_000

const client = (url: string, clientToken: Redacted.Redacted<string> | undefined) =>
  PoolClient.layer({
    url,
    token: clientToken,
    retry: { times: 1, base: "50 millis", cap: "100 millis" },
    reconnect: { base: "100 millis", cap: "500 millis" },
    keepalive: "500 millis"
  }).pipe(Layer.provide(NodeHttpClient.layerUndici))

const readyPool = Effect.gen(function*() {
  const manager = yield* PoolManager
  yield* manager.register(spec)
  return yield* manager.preload(p1)
})

describe("pool-managerd process failures", () => {
  it.scopedLive(
    "a lease holder killed with SIGKILL gets its slot released by the daemon",
    () =>
      Effect.gen(function*() {
        const daemon = yield* startDaemon(yield* makeHome(token))
        yield* Effect.gen(function*() {
          const handoff = yield* readyPool
          const holder = yield* Command.make(
            process.execPath,
            "--conditions=@llama-orch/source",
            "--import",
            "tsx",
            holdLease,
            daemon.url,
            "p1"
          ).pipe(Command.env({ POOL_MANAGERD_TOKEN: Redacted.value(token) }), Command.start)
          yield* Effect.addFinalizer(() => Effect.orDie(Processes.awaitGone(holder.pid)))
          const leased = yield* holder.stdout.pipe(
            Stream.decodeText(),
            Stream.splitLines,
            Stream.filter((line) => line.startsWith("leased ")),
            Stream.runHead,
            Effect.timeout("90 seconds")
          )
          expect(leased._tag).toBe("Some")
          const held = yield* Effect.flatMap(PoolManager, (m) => m.status(p1))
          expect(held.activeLeases).toBe(1)
          process.kill(holder.pid, "SIGKILL")
          const released = yield* awaitStatus(p1, (s) => s.activeLeases === 0)
          expect(released.slotsFree).toBe(1)
          expect(Processes.isAlive(handoff.pid)).toBe(true)
        }).pipe(Effect.provide(client(daemon.url, token)))
      }).pipe(Effect.provide(NodeContext.layer)),
    timeout
  )

  it.scopedLive(
    "a SIGKILLed daemon: calls fail PoolManagerUnavailable, the restarted daemon reaps orphans, events resume with a Snapshot",
    () =>
      Effect.gen(function*() {
        const home = yield* makeHome(token)
        const first = yield* startDaemon(home)
        const port = Number(new URL(first.url).port)
        yield* Effect.gen(function*() {
          const manager = yield* PoolManager
          const handoff: Handoff = yield* readyPool
          yield* Effect.addFinalizer(() => Effect.orDie(Processes.awaitGone(handoff.pid)))
          const snapshots = yield* Ref.make(0)
          const firstSnapshot = yield* Deferred.make<void>()
          const secondSnapshot = yield* Deferred.make<void>()
          yield* manager.events.pipe(
            Stream.filter((e) => e instanceof Snapshot),
            Stream.runForEach(() =>
              Effect.flatMap(Ref.updateAndGet(snapshots, (n) => n + 1), (n) =>
                Deferred.succeed(n === 1 ? firstSnapshot : secondSnapshot, undefined))
            ),
            Effect.forkScoped
          )
          yield* Deferred.await(firstSnapshot)

          first.signal("SIGKILL").pipe(Effect.runSync)
          yield* first.exit
          // the engine outlives its killed daemon...
          expect(Processes.isAlive(handoff.pid)).toBe(true)
          const error = yield* Effect.flip(manager.status(p1))
          expect(error).toBeInstanceOf(PoolManagerUnavailable)
          expect(error).toMatchObject({ url: first.url })
          expect(yield* Effect.flip(manager.register(spec))).toBeInstanceOf(PoolManagerUnavailable)

          // ...until a daemon on the same state directory reaps it
          yield* startDaemon(home, port)
          yield* Processes.awaitGone(handoff.pid, { timeout: "60 seconds" })
          yield* Deferred.await(secondSnapshot).pipe(Effect.timeout("60 seconds"))
          expect(yield* manager.list).toEqual([])
        }).pipe(Effect.provide(client(first.url, token)))
      }).pipe(Effect.provide(NodeContext.layer)),
    timeout
  )

  it.scopedLive(
    "a missing or wrong token is a typed Unauthorized, and no token ever reaches the daemon's logs",
    () =>
      Effect.gen(function*() {
        const wrongToken = Redacted.make("wrong-token-9a7e")
        const daemon = yield* startDaemon(yield* makeHome(token))
        const missing = yield* Effect.flip(
          Effect.flatMap(PoolManager, (m) => m.list).pipe(Effect.provide(client(daemon.url, undefined)))
        )
        expect(missing).toBeInstanceOf(Unauthorized)
        const wrong = yield* Effect.flip(
          Effect.flatMap(PoolManager, (m) => m.register(spec)).pipe(Effect.provide(client(daemon.url, wrongToken)))
        )
        expect(wrong).toBeInstanceOf(Unauthorized)
        expect(`${wrong.message} ${JSON.stringify(wrong)}`).not.toContain(Redacted.value(wrongToken))
        const wrongEvents = yield* Effect.flip(
          Effect.flatMap(PoolManager, (m) => Stream.runDrain(m.events)).pipe(
            Effect.provide(client(daemon.url, wrongToken))
          )
        )
        expect(wrongEvents).toBeInstanceOf(Unauthorized)
        // the right token works, and its calls are logged too
        yield* Effect.flatMap(PoolManager, (m) => Effect.zipRight(m.register(spec), m.health)).pipe(
          Effect.provide(client(daemon.url, token))
        )
        daemon.signal("SIGTERM").pipe(Effect.runSync)
        yield* daemon.exit
        const output = (yield* daemon.stdout) + (yield* daemon.stderr)
        expect(output.length).toBeGreaterThan(0)
        expect(output).not.toContain(Redacted.value(token))
        expect(output).not.toContain(Redacted.value(wrongToken))
      }).pipe(Effect.provide(NodeContext.layer)),
    timeout
  )
})
