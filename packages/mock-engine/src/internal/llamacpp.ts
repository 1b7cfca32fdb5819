/**
 * llama-server's native routes: `/health`, `/props`, `/slots`, `/metrics`, `/completion`.
 *
 * @internal
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { collect, defaultSeed, type DoneEvent, generate } from "./generation.js"
import { decodeBody, llamaError, sse } from "./http.js"
import { renderMetrics } from "./metrics.js"
import { EngineState, type EngineStateService, logLine } from "./state.js"

/** Body of `POST /completion`; unknown fields are ignored. */
const CompletionBody = Schema.Struct({
  prompt: Schema.Union(Schema.String, Schema.Array(Schema.Union(Schema.String, Schema.Number))),
  n_predict: Schema.optional(Schema.Int),
  stream: Schema.optional(Schema.Boolean),
  seed: Schema.optional(Schema.Int),
  temperature: Schema.optional(Schema.Number),
  top_p: Schema.optional(Schema.Number),
  top_k: Schema.optional(Schema.Number),
  stop: Schema.optional(Schema.Array(Schema.String))
})

/** 503 body llama-server answers while the model loads. */
export const loadingResponse = llamaError({ status: 503, message: "Loading model", type: "unavailable_error" })

const generationSettings = (state: EngineStateService, isProcessing: boolean, id = 0) => ({
  id,
  id_task: -1,
  n_ctx: state.config.ctx,
  speculative: false,
  is_processing: isProcessing,
  model: state.config.model,
  params: { n_predict: -1, seed: -1, temperature: 0.8, top_k: 40, top_p: 0.95, stream: false, stop: [] }
})

const finalFields = (state: EngineStateService, done: DoneEvent) => ({
  id_slot: done.slot,
  stop: true,
  model: state.config.model,
  tokens_predicted: done.tokensPredicted,
  tokens_evaluated: done.tokensEvaluated,
  has_new_line: done.content.includes("\n"),
  truncated: false,
  stop_type: done.stopType,
  stopping_word: done.stoppingWord,
  tokens_cached: done.tokensEvaluated + done.tokensPredicted,
  timings: done.timings
})

const health = Effect.gen(function*() {
  const state = yield* EngineState
  if (state.config.hangHealth) {
    yield* logLine("health: request held open (--hang-health)")
    return yield* Effect.never
  }
  if (!(yield* state.isLoaded)) return loadingResponse
  return HttpServerResponse.unsafeJson({
    status: "ok",
    ...Option.match(state.config.footprintMb, { onNone: () => ({}), onSome: (mb) => ({ footprint_mb: mb }) })
  })
})

const props = Effect.map(EngineState, (state) =>
  HttpServerResponse.unsafeJson({
    default_generation_settings: generationSettings(state, false),
    total_slots: state.config.slots,
    model_path: state.config.model,
    chat_template: "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}\n{% endfor %}<|assistant|>\n",
    modalities: { vision: false, audio: false },
    build_info: "b0-mock-engine"
  }))

const slots = Effect.gen(function*() {
  const state = yield* EngineState
  const busy = yield* state.busySlots
  return HttpServerResponse.unsafeJson(
    Array.from({ length: state.config.slots }, (_, id) => generationSettings(state, busy.has(id), id))
  )
})

const metrics = Effect.gen(function*() {
  const state = yield* EngineState
  return HttpServerResponse.text(renderMetrics(yield* state.counters), {
    contentType: "text/plain; version=0.0.4"
  })
})

const completion = Effect.gen(function*() {
  const state = yield* EngineState
  const body = yield* decodeBody(CompletionBody)
  if (Either.isLeft(body)) return llamaError(body.left)
  const request = body.right
  const events = generate(state, {
    prompt: typeof request.prompt === "string" ? request.prompt : request.prompt.join(" "),
    seed: request.seed === undefined || request.seed < 0 ? defaultSeed : request.seed,
    maxTokens: request.n_predict ?? -1,
    stop: request.stop ?? []
  })
  if (Either.isLeft(events)) return llamaError(events.left)
  if (request.stream === true) {
    const generation = events.right
    return yield* sse((send) =>
      Effect.map(
        generation((event) =>
          send({
            index: 0,
            content: event.piece,
            tokens: [],
            stop: false,
            id_slot: event.slot,
            tokens_predicted: event.predicted,
            tokens_evaluated: event.evaluated
          })
        ),
        (done) => send({ index: 0, content: "", tokens: [], ...finalFields(state, done) })
      )
    )
  }
  const done = yield* collect(events.right)
  return HttpServerResponse.unsafeJson({ index: 0, content: done.content, tokens: [], ...finalFields(state, done) })
})

/** llama-server's native routes. */
export const llamaRoutes = HttpRouter.empty.pipe(
  HttpRouter.get("/health", health),
  HttpRouter.get("/props", props),
  HttpRouter.get("/slots", slots),
  HttpRouter.get("/metrics", metrics),
  HttpRouter.post("/completion", completion),
  HttpRouter.post("/completions", completion)
)
