/**
 * Where a catalogued model's footprint comes from when it declares none, and what corrects it once
 * its engine runs: the footprint learned from the last run of the same model and arguments, else an
 * estimate from the model's GGUF header; after a load, what the engine really uses (per-process GPU
 * memory from `nvidia-smi`, or the engine's own report) is remembered in the state directory.
 *
 * @internal
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as EngineMemoryProbe from "../EngineMemoryProbe.js"
import * as FootprintStore from "../FootprintStore.js"
import type { CatalogModel, FootprintSource } from "../ModelCatalog.js"
import * as ModelFootprint from "../ModelFootprint.js"
import type { Handoff } from "../PoolStatus.js"

/** A footprint in MiB and where it came from. */
export interface Footprint {
  readonly mb: number
  readonly source: FootprintSource
}

/** What the catalog asks about footprints. */
export interface Footprints {
  /** What a load of `model` will need when it declares nothing: learned, else estimated. */
  readonly expected: (model: CatalogModel) => Effect.Effect<Option.Option<Footprint>>
  /** What the Ready engine of `model` uses, remembered for its next load. */
  readonly measured: (model: CatalogModel, handoff: Handoff) => Effect.Effect<Option.Option<number>>
}

/** What a load of `model` will need: declared, else learned or estimated, else nothing known. */
export const expectedOf = (
  footprints: Footprints | undefined,
  model: CatalogModel
): Effect.Effect<Footprint | undefined> =>
  model.footprintMb !== undefined
    ? Effect.succeed({ mb: model.footprintMb, source: "declared" })
    : footprints === undefined
    ? Effect.succeed(undefined)
    : Effect.map(footprints.expected(model), Option.getOrUndefined)

/** The key a model's footprint is learned under: everything that changes what its engine uses. */
const keyOf = (model: CatalogModel): string =>
  FootprintStore.footprintKey({
    engine: model.engine,
    model: model.model,
    ctxMax: model.ctxMax,
    slots: model.slots,
    args: model.args
  })

/** Footprints from the state directory's store, GGUF headers under `modelFile`, and the memory probe. */
export const make = (options: {
  readonly stateDir: string
  /** The file of a model ref (resolved under the model directory), `undefined` when it is outside it. */
  readonly modelFile: (model: string) => string | undefined
  /** The health path of an engine profile, which the probe asks when there is no `nvidia-smi`. */
  readonly healthPath: (engine: string) => string | undefined
}): Effect.Effect<
  Footprints,
  never,
  FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor | HttpClient.HttpClient
> =>
  Effect.gen(function*() {
    const store = yield* FootprintStore.make(options.stateDir)
    const probe = yield* EngineMemoryProbe.make
    const estimate = (model: CatalogModel) => {
      const file = options.modelFile(model.model)
      return file === undefined || !/\.gguf$/i.test(file)
        ? Effect.succeedNone
        : ModelFootprint.estimateGguf(file, { ctxMax: model.ctxMax, slots: model.slots }).pipe(
          Effect.map((estimate) => Option.some<Footprint>({ mb: estimate.totalMb, source: "estimated" })),
          Effect.catchAll((error) => Effect.as(Effect.logWarning(error.message), Option.none<Footprint>()))
        )
    }
    return {
      expected: (model) =>
        store.get(keyOf(model)).pipe(
          Effect.flatMap(Option.match({
            onSome: (learned) => Effect.succeedSome<Footprint>({ mb: learned.footprintMb, source: "learned" }),
            onNone: () => estimate(model)
          }))
        ),
      measured: (model, handoff) => {
        const healthPath = options.healthPath(model.engine)
        return probe.measure({
          pid: handoff.pid,
          healthUrl: healthPath === undefined ? undefined : handoff.url + healthPath
        }).pipe(
          Effect.tap(Option.match({
            onNone: () => Effect.void,
            onSome: (used) => store.learn(keyOf(model), used.mb, used.source)
          })),
          Effect.map(Option.map((used) => used.mb))
        )
      }
    }
  })
