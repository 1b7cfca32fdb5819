/**
 * `MultiPoolManager` over two in-memory nodes with catalogs: `models` lists each node's models
 * with its node, `load` goes to a node whose catalog has the model (the one serving it already
 * first), `unload` to every node that lists it, and an unknown model is `ModelNotFound`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ModelNotFound, MultiPoolManager } from "../src/index.js"
import { InMemoryPoolManager } from "../src/testing.js"

const node = (name: string, models: ReadonlyArray<string>) =>
  Effect.map(
    InMemoryPoolManager.make({ models: models.map((id) => ({ id, engine: "mock", model: `${id}.gguf` })) }),
    ({ manager }) => ({ name, manager })
  )

describe("MultiPoolManager: models across nodes", () => {
  it.scoped("lists, loads and unloads catalogued models on the nodes that have them", () =>
    Effect.gen(function*() {
      const multi = yield* MultiPoolManager.make([yield* node("n1", ["x"]), yield* node("n2", ["x", "y"])])
      const manager = multi.manager
      const listed = (yield* manager.models).map((m) => `${m.node}:${m.id}:${m.state}`)
      expect(listed).toEqual(["n1:x:unloaded", "n2:x:unloaded", "n2:y:unloaded"])

      const y = yield* manager.load("y")
      expect(y).toMatchObject({ poolId: "n2/model-y", node: "n2", modelId: "y", ready: true })
      // x goes to the node running fewer models, then stays there
      const x = yield* manager.load("x")
      expect(x.node).toBe("n1")
      expect((yield* manager.load("x")).poolId).toBe(x.poolId)
      const loaded = (yield* manager.models).filter((m) => m.state === "loaded").map((m) => m.poolId)
      expect(loaded).toEqual(["n1/model-x", "n2/model-y"])

      yield* manager.unload("x")
      expect((yield* manager.models).filter((m) => m.state === "loaded").map((m) => m.id)).toEqual(["y"])
      const missing = yield* Effect.flip(manager.load("z"))
      expect(missing).toBeInstanceOf(ModelNotFound)
      if (missing instanceof ModelNotFound) expect(missing.known).toEqual(["x", "y"])
    }))
})
