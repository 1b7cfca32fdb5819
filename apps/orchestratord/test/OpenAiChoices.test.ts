import { describe, expect, it } from "@effect/vitest"
import { Gathered } from "../src/internal/openAiChoices.js"

describe("a whole /v1 answer gathered from token events", () => {
  it("keeps choice 0's text in the order it came, plain and rich tokens mixed", () => {
    const gathered = new Gathered()
    gathered.addText("a")
    gathered.add({ _tag: "token", t: "b", i: 1, x: { logprobs: { content: [{ token: "b" }] } } })
    gathered.addText("c")
    gathered.add({ _tag: "token", t: "", i: 3, c: 1, x: { delta: { reasoning_content: "r" } } })
    const [first, second] = gathered.chat("stop")
    expect(first).toMatchObject({ index: 0, message: { content: "abc" }, logprobs: { content: [{ token: "b" }] } })
    expect(second).toMatchObject({ index: 1, message: { content: "", reasoning_content: "r" }, finish_reason: "stop" })
  })

  it("merges tool-call deltas by index: the first names the call, the rest add arguments", () => {
    const gathered = new Gathered()
    const call = (fields: Record<string, unknown>) => ({
      _tag: "token" as const,
      t: "",
      i: 0,
      x: { delta: { tool_calls: [{ index: 0, ...fields }] } }
    })
    gathered.add(call({ id: "c1", type: "function", function: { name: "f", arguments: "" } }))
    gathered.add(call({ function: { arguments: "{\"a\":" } }))
    gathered.add(call({ function: { arguments: "1}" } }))
    const [only] = gathered.chat("tool_calls")
    expect(only).toMatchObject({
      message: {
        content: null,
        tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{\"a\":1}" } }]
      },
      finish_reason: "tool_calls"
    })
  })
})
