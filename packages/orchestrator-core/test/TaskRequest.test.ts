import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { Started, TaskEvent, TaskRequest } from "../src/index.js"

describe("TaskRequest", () => {
  it("decodes snake_case wire fields into camelCase", () => {
    const r = Schema.decodeUnknownSync(TaskRequest)({
      model_ref: "tiny",
      prompt: "hi",
      max_tokens: 5,
      deadline_ms: 100,
      placement: { pin_pool_id: "p1" }
    })
    expect(r.modelRef).toBe("tiny")
    expect(r.maxTokens).toBe(5)
    expect(r.priority).toBe("interactive")
    expect(r.deadlineMs).toBe(100)
    expect(r.placement?.pinPoolId).toBe("p1")
  })

  it("requires exactly one of prompt or messages", () => {
    const both = { model_ref: "m", prompt: "x", messages: [{ role: "user", content: "x" }], max_tokens: 1 }
    expect(Either.isLeft(Schema.decodeUnknownEither(TaskRequest)(both))).toBe(true)
    expect(Either.isLeft(Schema.decodeUnknownEither(TaskRequest)({ model_ref: "m", max_tokens: 1 }))).toBe(true)
  })

  it("encodes events with snake_case keys", () => {
    const wire = Schema.encodeSync(TaskEvent)(Started.make({ queuePosition: 2, predictedStartMs: 30 }))
    expect(wire).toEqual({ _tag: "started", queue_position: 2, predicted_start_ms: 30 })
  })
})
