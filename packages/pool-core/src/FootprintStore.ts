/**
 * Learned footprints: the device memory engines really used, per model and engine arguments,
 * remembered across restarts in `footprints.json` under the manager's state directory (validated
 * with a Schema when read, written atomically). A learned footprint beats an estimate the next time
 * the same model is placed with the same arguments.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SynchronizedRef from "effect/SynchronizedRef"
import { writeFileAtomic } from "./internal/stateFiles.js"

/**
 * Where a learned footprint was measured: `nvidia-smi`'s per-process memory, or the engine's own
 * report (the mock engine's `footprint_mb`).
 *
 * @category schemas
 * @since 0.1.0
 */
export const FootprintSource = Schema.Literal("nvidia-smi", "engine")

/**
 * A value of the `FootprintSource` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type FootprintSource = typeof FootprintSource.Type

/**
 * One learned footprint: its key (see `footprintKey`), the memory in MiB, when and how it was measured.
 *
 * @category models
 * @since 0.1.0
 */
export class LearnedFootprint extends Schema.Class<LearnedFootprint>("LearnedFootprint")({
  key: Schema.String,
  footprintMb: Schema.Int.pipe(Schema.nonNegative()),
  learnedAt: Schema.Number,
  source: FootprintSource
}) {}

/**
 * The contents of `footprints.json`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const FootprintFile = Schema.Struct({
  version: Schema.Literal(1),
  footprints: Schema.Array(LearnedFootprint)
})

const FootprintFileJson = Schema.parseJson(FootprintFile, { space: 2 })

/**
 * The file name under the state directory.
 *
 * @category constants
 * @since 0.1.0
 */
export const fileName = "footprints.json"

/**
 * The key of a model as it runs: engine profile, model file, context, slots and extra engine
 * arguments. Anything that changes the memory an engine uses belongs in it.
 *
 * @category utils
 * @since 0.1.0
 */
export const footprintKey = (parts: {
  readonly engine: string
  readonly model: string
  readonly ctxMax: number
  readonly slots: number
  readonly args?: ReadonlyArray<string> | undefined
}): string => JSON.stringify([parts.engine, parts.model, parts.ctxMax, parts.slots, parts.args ?? []])

/**
 * The operations of a footprint store.
 *
 * @category models
 * @since 0.1.0
 */
export interface FootprintStoreService {
  /** The footprint learned for `key`, if any. */
  readonly get: (key: string) => Effect.Effect<Option.Option<LearnedFootprint>>
  /** Records (replacing) what an engine run under `key` used, and persists it. */
  readonly learn: (key: string, footprintMb: number, source: FootprintSource) => Effect.Effect<LearnedFootprint>
  /** Drops what was learned for `key`. */
  readonly forget: (key: string) => Effect.Effect<void>
  /** Every learned footprint. */
  readonly all: Effect.Effect<ReadonlyArray<LearnedFootprint>>
}

/**
 * The footprint store service.
 *
 * @example
 * ```ts
 * import { NodeContext, NodeRuntime } from "@effect/platform-node"
 * import { FootprintStore } from "@llama-orch/pool-core"
 * import { Console, Effect } from "effect"
 *
 * const key = FootprintStore.footprintKey({ engine: "llamacpp", model: "tiny.gguf", ctxMax: 4096, slots: 2 })
 *
 * // learned once (persisted in the state directory), read back by the next load of the same key
 * const program = Effect.gen(function*() {
 *   const store = yield* FootprintStore.FootprintStore
 *   yield* store.learn(key, 5120, "nvidia-smi")
 *   yield* Console.log(yield* store.get(key))
 * })
 *
 * program.pipe(
 *   Effect.provide(FootprintStore.layer("./.state/footprints-example")),
 *   Effect.provide(NodeContext.layer),
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class FootprintStore extends Context.Tag("@llama-orch/pool-core/FootprintStore")<
  FootprintStore,
  FootprintStoreService
>() {}

type Entries = ReadonlyMap<string, LearnedFootprint>

/**
 * A store persisted in `stateDir/footprints.json`, starting from what that file holds. A missing
 * file starts empty; an unreadable or invalid one is logged and replaced by the next write. A failed
 * write is logged and the store keeps the footprint in memory: learned footprints are an
 * optimisation, never a reason to fail a load.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  stateDir: string
): Effect.Effect<FootprintStoreService, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = (yield* Path.Path).join(stateDir, fileName)
    const initial = yield* fs.readFileString(file).pipe(
      Effect.flatMap(Schema.decode(FootprintFileJson)),
      Effect.map((contents): Entries => new Map(contents.footprints.map((entry) => [entry.key, entry]))),
      Effect.catchAll((error) =>
        error._tag === "SystemError" && error.reason === "NotFound"
          ? Effect.succeed<Entries>(new Map())
          : Effect.logWarning(`ignoring ${file}, which is not a valid footprint file: ${error.message}`).pipe(
            Effect.as<Entries>(new Map())
          )
      )
    )
    const entries = yield* SynchronizedRef.make(initial)
    const persist = (next: Entries) =>
      Schema.encode(FootprintFileJson)({ version: 1, footprints: [...next.values()] }).pipe(
        Effect.flatMap((text) => writeFileAtomic(fs, file, text)),
        Effect.catchAll((error) => Effect.logWarning(`could not write ${file}: ${error.message}`)),
        Effect.as(next)
      )
    const change = (f: (current: Entries) => Entries) =>
      SynchronizedRef.updateEffect(entries, (current) => persist(f(current)))
    return {
      get: (key) => SynchronizedRef.get(entries).pipe(Effect.map((current) => Option.fromNullable(current.get(key)))),
      learn: (key, footprintMb, source) =>
        Effect.gen(function*() {
          const entry = new LearnedFootprint({
            key,
            footprintMb: Math.max(0, Math.ceil(footprintMb)),
            learnedAt: yield* Clock.currentTimeMillis,
            source
          })
          yield* change((current) => new Map(current).set(key, entry))
          return entry
        }),
      forget: (key) =>
        change((current) => {
          const next = new Map(current)
          next.delete(key)
          return next
        }),
      all: SynchronizedRef.get(entries).pipe(Effect.map((current) => [...current.values()]))
    }
  })

/**
 * The store of `stateDir` as a layer.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (stateDir: string): Layer.Layer<FootprintStore, never, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(FootprintStore, make(stateDir))
