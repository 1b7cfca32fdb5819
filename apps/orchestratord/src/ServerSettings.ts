/**
 * The HTTP-layer settings of orchestratord: request body limit, SSE heartbeat interval, the bearer
 * token (if any) and the API version advertised by `/openapi.json` and the capabilities.
 *
 * @since 0.1.0
 */
import { RequestGuard } from "@llama-orch/daemon-kit"
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import { defaultMaxBufferedBytes } from "./Sse.js"

/**
 * The version of the HTTP API (`info.version` of the OpenAPI document, `api_version` of the
 * capabilities).
 *
 * @since 0.1.0
 */
export const apiVersion = "2.0.0"

/**
 * Settings of the HTTP layer.
 *
 * @since 0.1.0
 */
export interface ServerSettingsShape {
  /** Requests with a larger body are refused with 413. */
  readonly maxBodyBytes: number
  /** Interval of SSE comment heartbeats. */
  readonly heartbeatMs: number
  /** When set, every route but `/health`, `/ready` and `/metrics` requires `Authorization: Bearer`. */
  readonly token: Redacted.Redacted<string> | undefined
  /** Default `max_tokens` of OpenAI requests that do not say. */
  readonly openAiDefaultMaxTokens: number
  /** What the request guard allows (`Host` names, browser origins); see daemon-kit's `RequestGuard`. */
  readonly guard: RequestGuard.Guard
  /** Bytes an event stream may buffer for a client that does not read before it is cut. */
  readonly sseMaxBufferedBytes: number
}

/**
 * The settings tag.
 *
 * @since 0.1.0
 */
export class ServerSettings extends Context.Tag("@llama-orch/orchestratord/ServerSettings")<
  ServerSettings,
  ServerSettingsShape
>() {}

/**
 * Default settings: 1 MiB bodies, 15 s heartbeats, no token, 256 tokens for OpenAI requests, a guard
 * for a loopback bind with no extra hosts or origins, 8 MiB of event stream buffered for a client that
 * does not read.
 *
 * @since 0.1.0
 */
export const defaults: ServerSettingsShape = {
  maxBodyBytes: 1024 * 1024,
  heartbeatMs: 15_000,
  token: undefined,
  openAiDefaultMaxTokens: 256,
  guard: RequestGuard.make({
    bindHost: "127.0.0.1",
    allowedHosts: [],
    allowedOrigins: [],
    bodyTypes: ["application/json"]
  }),
  sseMaxBufferedBytes: defaultMaxBufferedBytes
}

/**
 * Provides settings, filling what is not given from `defaults`.
 *
 * @since 0.1.0
 */
export const layer = (settings: Partial<ServerSettingsShape> = {}): Layer.Layer<ServerSettings> =>
  Layer.succeed(ServerSettings, { ...defaults, ...settings })
