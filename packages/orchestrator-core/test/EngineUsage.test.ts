import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { poolStatus } from "./helpers/fakes.js"
import { collect, harness, task } from "./helpers/harness.js"

const chunk = (content: string) => JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: null }] })

describe("the engine's own counts", () => {
  it.effect("end carries the usage, finish reason and fingerprint the engine reported, over the pieces counted", () =>
    Effect.gen(function*() {
      const h = yield* harness([poolStatus("p", { protocol: "openai" })], () => ({
        events: [
          chunk("two tokens"),
          chunk(" more"),
          JSON.stringify({
            choices: [{ index: 0, delta: {}, finish_reason: "length" }],
            system_fingerprint: "fp_engine"
          }),
          JSON.stringify({ choices: [], usage: { prompt_tokens: 11, completion_tokens: 5 } }),
          "[DONE]"
        ],
        then: "close"
      }))
      const { taskId } = yield* h.orchestrator.submit(task())
      const events = yield* collect(h.orchestrator.events(taskId))
      // two pieces arrived, but the engine counted five tokens
      expect(events.filter((e) => e.event._tag === "token")).toHaveLength(2)
      expect(events.at(-1)?.event).toMatchObject({
        _tag: "end",
        tokensIn: 11,
        tokensOut: 5,
        finishReason: "length",
        systemFingerprint: "fp_engine"
      })
      yield* h.close
    }))
})
