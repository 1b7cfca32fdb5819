/**
 * What an engine really uses of its device's memory, measured once it is Ready: from `nvidia-smi
 * --query-compute-apps=pid,used_memory` when it is on `PATH` (the engine and every process of its
 * process group, as engines are spawned as group leaders), else from the engine's own report — a
 * `footprint_mb` field in its health body, as the mock engine's `--footprint-mb` gives — else
 * nothing. What it measures is what a `FootprintStore` learns.
 *
 * @since 0.1.0
 */
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { FootprintSource } from "./FootprintStore.js"
import { queryCsv } from "./internal/nvidiaSmi.js"
import { parseStatProcessGroup } from "./internal/processControl.js"

/**
 * The device memory an engine uses, in MiB, and where that was measured.
 *
 * @category models
 * @since 0.1.0
 */
export class EngineMemory extends Schema.Class<EngineMemory>("EngineMemory")({
  mb: Schema.Int.pipe(Schema.nonNegative()),
  source: FootprintSource
}) {}

/**
 * The engine to measure: its process id (the leader of its process group) and, for the engine's own
 * report, the URL of its health endpoint.
 *
 * @category models
 * @since 0.1.0
 */
export interface ProbedEngine {
  readonly pid: number
  readonly healthUrl?: string | undefined
}

/**
 * The operations of a memory probe.
 *
 * @category models
 * @since 0.1.0
 */
export interface EngineMemoryProbeService {
  /** What the engine uses now; `None` when neither `nvidia-smi` nor the engine can say. */
  readonly measure: (engine: ProbedEngine) => Effect.Effect<Option.Option<EngineMemory>>
}

/**
 * The memory probe service.
 *
 * @example
 * ```ts
 * import { EngineMemoryProbe } from "@llama-orch/pool-core"
 * import { Effect, Layer, Option } from "effect"
 *
 * // a probe with a fixed answer, for a test of what reads it (the real one is `EngineMemoryProbe.layer`)
 * const Fixed = Layer.succeed(EngineMemoryProbe.EngineMemoryProbe, {
 *   measure: () => Effect.succeed(Option.some(new EngineMemoryProbe.EngineMemory({ mb: 512, source: "engine" })))
 * })
 *
 * const program = Effect.flatMap(EngineMemoryProbe.EngineMemoryProbe, (probe) => probe.measure({ pid: process.pid }))
 *
 * Effect.runPromise(program.pipe(Effect.provide(Fixed))).then((memory) => console.log(Option.getOrUndefined(memory)))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class EngineMemoryProbe extends Context.Tag("@llama-orch/pool-core/EngineMemoryProbe")<
  EngineMemoryProbe,
  EngineMemoryProbeService
>() {}

/**
 * The arguments of the per-process query.
 *
 * @category utils
 * @since 0.1.0
 */
export const computeAppsArgs: ReadonlyArray<string> = [
  "--query-compute-apps=pid,used_memory",
  "--format=csv,noheader,nounits"
]

/**
 * The processes and their memory in MiB from the rows of the per-process query (`4242, 5120`);
 * rows without a number (`[N/A]`, as under some virtualisation) are left out.
 *
 * @category utils
 * @since 0.1.0
 */
export const parseComputeApps = (
  rows: ReadonlyArray<ReadonlyArray<string>>
): ReadonlyArray<{ readonly pid: number; readonly usedMb: number }> =>
  rows.flatMap(([pid, used]) =>
    pid !== undefined && used !== undefined && /^\d+$/.test(pid) && /^\d+$/.test(used)
      ? [{ pid: Number(pid), usedMb: Number(used) }]
      : []
  )

const EngineReport = Schema.Struct({ footprint_mb: Schema.Int.pipe(Schema.nonNegative()) })

const engineReportTimeoutMs = 5_000

/**
 * A probe using `nvidia-smi` and the engines' health reports.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: Effect.Effect<
  EngineMemoryProbeService,
  never,
  CommandExecutor.CommandExecutor | HttpClient.HttpClient | FileSystem.FileSystem
> = Effect.gen(function*() {
  const executor = yield* CommandExecutor.CommandExecutor
  const client = yield* HttpClient.HttpClient
  const fs = yield* FileSystem.FileSystem

  const inGroup = (leader: number, pid: number) =>
    pid === leader
      ? Effect.succeed(true)
      : fs.readFileString(`/proc/${pid}/stat`).pipe(
        Effect.map((stat) => Option.contains(parseStatProcessGroup(stat), leader)),
        Effect.orElseSucceed(() => false)
      )

  const fromNvidiaSmi = (leader: number) =>
    queryCsv(executor, computeAppsArgs).pipe(
      Effect.flatMap(Option.match({
        onNone: () => Effect.succeed(Option.none<EngineMemory>()),
        onSome: (rows) =>
          Effect.filter(parseComputeApps(rows), (app) => inGroup(leader, app.pid)).pipe(
            Effect.map((apps) =>
              apps.length === 0 ? Option.none() : Option.some(
                new EngineMemory({ mb: apps.reduce((sum, app) => sum + app.usedMb, 0), source: "nvidia-smi" })
              )
            )
          )
      })),
      Effect.catchAll((error) => Effect.logWarning(error.message).pipe(Effect.as(Option.none<EngineMemory>())))
    )

  const fromEngine = (healthUrl: string | undefined) =>
    healthUrl === undefined
      ? Effect.succeed(Option.none<EngineMemory>())
      : client.get(healthUrl).pipe(
        Effect.flatMap(HttpClientResponse.schemaBodyJson(EngineReport)),
        Effect.timeout(engineReportTimeoutMs),
        Effect.map((report) => Option.some(new EngineMemory({ mb: report.footprint_mb, source: "engine" }))),
        Effect.orElseSucceed(() => Option.none<EngineMemory>())
      )

  return {
    measure: (engine) =>
      fromNvidiaSmi(engine.pid).pipe(
        Effect.flatMap((measured) => Option.isSome(measured) ? Effect.succeed(measured) : fromEngine(engine.healthUrl))
      )
  }
})

/**
 * The probe as a layer.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<
  EngineMemoryProbe,
  never,
  CommandExecutor.CommandExecutor | HttpClient.HttpClient | FileSystem.FileSystem
> = Layer.effect(EngineMemoryProbe, make)
