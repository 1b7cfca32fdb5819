/**
 * `PoolClient.lease` over lease sessions: every lease of a client shares one `LeaseSession` stream,
 * and a lease after that stream ended (the daemon restarted) opens a new one. Against an in-memory
 * manager served over real HTTP on a port that outlives the server.
 */
import { HttpClient, HttpLayerRouter, HttpServer } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { PoolId, PoolManager, PoolRpcHandlers, PoolSpec } from "@llama-orch/pool-core"
import { InMemoryPoolManager } from "@llama-orch/pool-core/testing"
import { Context, Effect, Exit, Layer, Redacted, Ref, Schema, Scope } from "effect"
import { createServer } from "node:http"
import { PoolClient } from "../src/index.js"

const token = Redacted.make("lease-session-token")
const p1 = Schema.decodeSync(PoolId)("p1")

/** Serves `manager` at 127.0.0.1:`port` until `scope` closes; returns the port. */
const serveOn = (manager: PoolManager["Type"], port: number, scope: Scope.Scope) =>
  Layer.build(
    HttpLayerRouter.serve(PoolRpcHandlers.layerRoute({ token }), { disableLogger: true, disableListenLog: true }).pipe(
      Layer.provide(Layer.succeed(PoolManager, manager)),
      Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port }))
    )
  ).pipe(
    Scope.extend(scope),
    Effect.flatMap((context) => {
      const address = Context.get(context, HttpServer.HttpServer).address
      return address._tag === "TcpAddress" ? Effect.succeed(address.port) : Effect.dieMessage("expected TCP")
    })
  )

/** undici, counting the requests that open a `LeaseSession` stream. */
const countingSessions = (opened: Ref.Ref<number>) =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (client) =>
      HttpClient.tapRequest(client, (request) =>
        request.body._tag === "Uint8Array" && new TextDecoder().decode(request.body.body).includes("\"LeaseSession\"")
          ? Ref.update(opened, (n) =>
            n + 1)
          : Effect.void))
  ).pipe(Layer.provide(NodeHttpClient.layerUndici))

describe("PoolClient leases in a session", () => {
  it.scopedLive("share one LeaseSession stream, and open a new one after the daemon restarted", () =>
    Effect.gen(function*() {
      const manager = yield* Effect.map(Layer.build(InMemoryPoolManager.layer()), Context.get(PoolManager))
      yield* manager.register(Schema.decodeUnknownSync(PoolSpec)({ id: "p1", engine: "mock", model: "m", slots: 3 }))
      yield* manager.preload(p1)
      const first = yield* Scope.make()
      const port = yield* serveOn(manager, 0, first)
      const opened = yield* Ref.make(0)
      const client = yield* Effect.map(
        Layer.build(
          PoolClient.layer({ url: `http://127.0.0.1:${port}`, token }).pipe(Layer.provide(countingSessions(opened)))
        ),
        Context.get(PoolManager)
      )
      const slotsFree = Effect.map(manager.status(p1), (status) => status.slotsFree)

      // one after the other, then two held at once: one session for all of them
      for (let i = 0; i < 3; i++) yield* Effect.scoped(client.lease(p1))
      const held = yield* Scope.make()
      yield* Effect.all([client.lease(p1), client.lease(p1)], { concurrency: 2 }).pipe(Scope.extend(held))
      expect(yield* slotsFree).toBe(1)
      expect(yield* Ref.get(opened)).toBe(1)
      yield* Scope.close(held, Exit.void)

      // the daemon goes away with a lease held: the session ends and the slot comes back
      const orphan = yield* Scope.make()
      yield* client.lease(p1).pipe(Scope.extend(orphan))
      expect(yield* slotsFree).toBe(2)
      yield* Scope.close(first, Exit.void)
      expect(yield* slotsFree).toBe(3)

      // back on the same port (an idempotent call first: it retries past sockets the old server
      // closed, as any caller's first call after a restart may meet): the next lease opens a new session
      yield* serveOn(manager, port, yield* Effect.scope)
      yield* client.health
      const again = yield* Scope.make()
      const lease = yield* client.lease(p1).pipe(Scope.extend(again))
      expect(lease.poolId).toBe("p1")
      expect(yield* slotsFree).toBe(2)
      expect(yield* Ref.get(opened)).toBe(2)
      yield* Scope.close(again, Exit.void)
      yield* Scope.close(orphan, Exit.void)
    }))
})
