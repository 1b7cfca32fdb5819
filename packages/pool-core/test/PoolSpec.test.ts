import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { PoolId, PoolSpec } from "../src/index.js"

describe("PoolSpec", () => {
  it("fills defaults", () => {
    const spec = Schema.decodeUnknownSync(PoolSpec)({ id: "p1", engine: "mock", model: "tiny" })
    expect(spec.slots).toBe(1)
    expect(spec.preload).toBe(true)
    expect(spec.ctxMax).toBe(4096)
  })

  it.each(["", "A", "-x", "a/b/c", "/a", "a/", "..", "a/..", "a".repeat(64)])("rejects pool id %j", (id) => {
    expect(Either.isLeft(Schema.decodeUnknownEither(PoolId)(id))).toBe(true)
  })

  it("takes a node-qualified pool id, but never in a spec (spec ids name files)", () => {
    expect(Either.isRight(Schema.decodeUnknownEither(PoolId)("gpu-a/qwen"))).toBe(true)
    const spec = Schema.decodeUnknownEither(PoolSpec)({ id: "gpu-a/qwen", engine: "mock", model: "m" })
    expect(Either.isLeft(spec)).toBe(true)
  })

  it.each(["/etc/passwd", "../x", "a/../../b", "a\u0000b", "", "--rpc-server", "-m"])(
    "rejects model ref %j",
    (model) => {
      const r = Schema.decodeUnknownEither(PoolSpec)({ id: "p1", engine: "mock", model })
      expect(Either.isLeft(r)).toBe(true)
    }
  )
})
