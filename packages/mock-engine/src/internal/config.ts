/**
 * The settings one mock engine process runs with (parsed from its command line).
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"

/** Settings of one running mock engine. */
export interface EngineSettings {
  readonly host: string
  readonly port: number
  readonly model: string
  readonly slots: number
  readonly ctx: number
  /** Tokens per second; 0 means as fast as possible. */
  readonly tps: number
  readonly loadMs: number
  readonly crashOnStart: boolean
  /** Exit (with `exitCode`) halfway through the load, after listening. */
  readonly crashDuringLoad: boolean
  readonly crashAfterTokens: Option.Option<number>
  readonly hangHealth: boolean
  readonly ignoreSigterm: boolean
  readonly exitCode: number
  /** Serve `/v1/embeddings` (as llama-server's `--embeddings`); otherwise it answers 501. */
  readonly embeddings: boolean
  /** Device memory in MiB the engine claims to use, reported as `footprint_mb` in its `/health` body. */
  readonly footprintMb: Option.Option<number>
  /** When set, every route but `/health` needs `Authorization: Bearer <key>` (as llama-server's `--api-key`). */
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
}

/** The settings of the running engine, provided to every route. */
export class EngineConfig extends Context.Tag("@llama-orch/mock-engine/EngineConfig")<EngineConfig, EngineSettings>() {}

/** Defaults for every setting but the port. */
export const defaultSettings: Omit<EngineSettings, "port"> = {
  host: "127.0.0.1",
  model: "mock-model",
  slots: 1,
  ctx: 4096,
  tps: 0,
  loadMs: 0,
  crashOnStart: false,
  crashDuringLoad: false,
  crashAfterTokens: Option.none(),
  hangHealth: false,
  ignoreSigterm: false,
  exitCode: 1,
  embeddings: false,
  footprintMb: Option.none(),
  apiKey: Option.none()
}
