/**
 * Engine profiles: how to run one kind of engine.
 *
 * Profiles are given to a pool manager when it is built (daemon config or embedding code), never by
 * a remote caller, so a remote caller can only start commands the operator allowed.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The HTTP protocol an engine speaks: llama.cpp's `llama-server` (`/completion`) or an
 * OpenAI-compatible server (`/v1/completions`, `/v1/chat/completions`).
 *
 * @category schemas
 * @since 0.1.0
 */
export const EngineProtocol = Schema.Literal("llamacpp", "openai")

/**
 * A value of the `EngineProtocol` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type EngineProtocol = typeof EngineProtocol.Type

/**
 * The placeholders an argument template may use.
 *
 * @category utils
 * @since 0.1.0
 */
export const templateVariables = [
  "model",
  "host",
  "port",
  "slots",
  "ctx",
  "deviceMask",
  "device",
  "poolId",
  "api_key"
] as const

/**
 * How to run one kind of engine. `args` is a template: each argument may contain
 * `{model} {host} {port} {slots} {ctx} {deviceMask} {device} {poolId} {api_key}` (`{device}` is the
 * device mask too: the GPU a model was placed on, for engines that take it as an argument). With `{api_key}` (for
 * llama-server and vLLM: `--api-key {api_key}`) every engine process gets a fresh random key, which
 * only the leases of its pool carry: nothing else on the machine can use the engine directly.
 *
 * @category models
 * @since 0.1.0
 */
export class EngineProfile extends Schema.Class<EngineProfile>("EngineProfile")({
  name: Schema.NonEmptyTrimmedString,
  protocol: EngineProtocol,
  command: Schema.NonEmptyString,
  args: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  env: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  healthPath: Schema.optionalWith(Schema.String.pipe(Schema.startsWith("/")), { default: () => "/health" }),
  versionArgs: Schema.optional(Schema.Array(Schema.String))
}) {}
