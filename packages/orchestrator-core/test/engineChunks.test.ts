import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck, Schema } from "effect"
import { choiceExtras, LlamaChunk, OpenAIChunk, quickLlama, quickOpenAI } from "../src/internal/engineChunks.js"

const fc = FastCheck

/** A field's value: mostly of the right type, sometimes of another. */
const anyField = fc.oneof(
  fc.string(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 2 })
)
const field = (right: FastCheck.Arbitrary<unknown>) =>
  fc.oneof({ weight: 4, arbitrary: right }, { weight: 1, arbitrary: anyField })

/** Llama-like events, valid or one field off, with extra fields the schema ignores. */
const llamaLike = fc.record({
  content: field(fc.string()),
  stop: field(fc.boolean()),
  tokens_predicted: field(fc.nat()),
  tokens_evaluated: field(fc.double()),
  timings: field(fc.record({ predicted_ms: field(fc.double()), other: fc.nat() }, { requiredKeys: [] })),
  id_slot: fc.nat()
}, { requiredKeys: [] })

const openAILike = fc.record({
  choices: field(fc.array(
    fc.record({
      text: field(fc.option(fc.string(), { nil: null })),
      delta: field(fc.record({
        content: field(fc.option(fc.string(), { nil: null })),
        role: fc.string(),
        refusal: field(fc.option(fc.string(), { nil: null })),
        reasoning_content: field(fc.option(fc.string(), { nil: null })),
        tool_calls: fc.jsonValue()
      }, {
        requiredKeys: []
      })),
      index: field(fc.nat()),
      logprobs: fc.jsonValue(),
      finish_reason: field(fc.option(fc.constantFrom("stop", "length", "tool_calls"), { nil: null }))
    }, { requiredKeys: [] }),
    { maxLength: 3 }
  )),
  usage: field(fc.option(
    fc.record({ prompt_tokens: field(fc.nat()), completion_tokens: field(fc.nat()) }, {
      requiredKeys: []
    }),
    { nil: null }
  )),
  model: fc.string(),
  system_fingerprint: field(fc.option(fc.string(), { nil: null }))
}, { requiredKeys: [] })

/** The hand check accepts only what the schema accepts, with the same result. */
const agrees = <A, I>(schema: Schema.Schema<A, I>, quick: (u: unknown) => A | undefined, input: unknown) => {
  const quickly = quick(input)
  if (quickly === undefined) return
  const decoded = Schema.decodeUnknownEither(schema)(input)
  expect(Either.isRight(decoded)).toBe(true)
  expect(quickly).toEqual(Either.getOrThrow(decoded))
}

/** What the schema accepts after a trip through JSON (which has no infinities), the hand check takes. */
const takes = <A, I>(schema: Schema.Schema<A, I>, quick: (u: unknown) => A | undefined, value: A) => {
  const json: unknown = JSON.parse(JSON.stringify(value))
  const decoded = Schema.decodeUnknownEither(schema)(json)
  if (Either.isRight(decoded)) expect(quick(json)).toEqual(decoded.right)
}

describe("engine chunk decoding", () => {
  it.prop(
    "the llama.cpp hand check never disagrees with the schema",
    [fc.oneof(llamaLike, fc.anything())],
    ([input]) => {
      agrees(LlamaChunk, quickLlama, input)
    }
  )

  it.prop("the OpenAI hand check never disagrees with the schema", [fc.oneof(openAILike, fc.anything())], ([input]) => {
    agrees(OpenAIChunk, quickOpenAI, input)
  })

  it.prop(
    "every event the schemas accept as JSON is taken by the hand checks (the fast path is the usual path)",
    [Arbitrary.make(LlamaChunk), Arbitrary.make(OpenAIChunk)],
    ([llama, openai]) => {
      takes(LlamaChunk, quickLlama, llama)
      takes(OpenAIChunk, quickOpenAI, openai)
    }
  )

  it("keeps what a choice carries beyond text, and nothing in the usual case", () => {
    expect(choiceExtras({ index: 0, delta: { content: "a" }, logprobs: null, finish_reason: null })).toBeUndefined()
    const call = [{ index: 0, id: "c1", type: "function", function: { name: "f", arguments: "" } }]
    expect(choiceExtras({ index: 0, delta: { content: null, tool_calls: call }, finish_reason: null })).toEqual({
      delta: { tool_calls: call }
    })
    expect(
      choiceExtras({ index: 1, delta: { reasoning_content: "hm" }, logprobs: { content: [] }, finish_reason: "stop" })
    )
      .toEqual({ delta: { reasoning_content: "hm" }, logprobs: { content: [] }, finish_reason: "stop" })
  })
})
