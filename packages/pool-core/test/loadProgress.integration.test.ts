import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, LogLevel, Ref } from "effect"
import { PoolId, PoolManager, PoolSpec } from "../src/index.js"
import { progressOf } from "../src/internal/loadProgress.js"
import { mockProfile, profiles, recordEvents, statusesOf, withManager } from "./support/harness.js"

const id = PoolId.make

describe("engine load progress", () => {
  it("reads the engine's last loading line and its percentage (llama-server, vLLM)", () => {
    const llama = [
      "ggml_cuda_init: found 1 CUDA devices:",
      "llama_model_loader: loaded meta data with 33 key-value pairs and 291 tensors from /m/q.gguf",
      "load_tensors: offloading 28 repeating layers to GPU",
      "srv  log_server_r: request: GET /health 127.0.0.1 503"
    ].join("\n")
    expect(progressOf(llama)).toEqual({
      progress: "load_tensors: offloading 28 repeating layers to GPU",
      fraction: undefined
    })
    const vllm = "INFO 12-05 loader.py:1 Loading weights\r" +
      "Loading safetensors checkpoint shards:  50% Completed | 1/2 [00:03<00:03]\r" +
      "Loading safetensors checkpoint shards: 100% Completed | 2/2 [00:06<00:00]\n"
    expect(progressOf(vllm)).toMatchObject({ fraction: 1 })
    expect(progressOf("nothing here\n")).toEqual({})
  })

  it.live(
    "a loading engine's progress is published while Starting, logged at info, and timed for next time",
    () =>
      withManager(
        { profiles: [...profiles, mockProfile("slow", ["--load-ms", "1200"])], progressIntervalMs: 100 },
        () =>
          Effect.gen(function*() {
            const pm = yield* PoolManager
            const events = yield* recordEvents
            const logged: Array<{ message: string; annotations: Record<string, unknown> }> = []
            const capture = Logger.replace(
              Logger.defaultLogger,
              Logger.make(({ annotations, message }) =>
                logged.push({
                  message: Array.isArray(message) ? message.join(" ") : String(message),
                  annotations: Object.fromEntries(annotations)
                })
              )
            )
            yield* pm.register(new PoolSpec({ id: id("s"), engine: "slow", model: "tiny", preload: false }))
            yield* pm.preload(id("s")).pipe(Effect.provide(capture), Logger.withMinimumLogLevel(LogLevel.Info))

            const first = statusesOf(yield* Ref.get(events), "s").filter((s) => s.state === "Starting")
            const loading = first.flatMap((s) => s.loading === undefined ? [] : [s.loading])
            expect(loading.length).toBeGreaterThan(3)
            // elapsed grows, the mock's own "loading tensors ... N%" lines come through with their fraction
            expect(loading.map((l) => l.elapsedMs)).toEqual([...loading.map((l) => l.elapsedMs)].sort((a, b) => a - b))
            expect(loading.some((l) => /loading tensors/.test(l.progress ?? "") && (l.fraction ?? 0) > 0)).toBe(true)
            expect(loading[0]?.expectedMs).toBeUndefined()
            // at info, with the elapsed time and the engine's line: at the first report, then every 5 s
            const progressLines = logged.filter((l) => l.message.startsWith("engine loading"))
            expect(progressLines).toHaveLength(1)
            expect(progressLines[0]?.annotations).toMatchObject({ elapsed_ms: expect.any(Number), pool_id: "s" })
            expect((yield* pm.status(id("s"))).loading).toBeUndefined()

            // the next load of the same model knows how long the last one took
            yield* pm.drain(id("s"), { deadlineMs: 1_000 })
            yield* Ref.set(events, [])
            yield* pm.preload(id("s"))
            const second = statusesOf(yield* Ref.get(events), "s").flatMap((s) =>
              s.loading === undefined ? [] : [s.loading]
            )
            const expected = second[0]?.expectedMs
            expect(expected).toBeGreaterThanOrEqual(1_200)
            expect(second[0]?.remainingMs).toBeGreaterThan(1_000)
          })
      ),
    60_000
  )
})
