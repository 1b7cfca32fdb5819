/**
 * `POST /admin/reload-config` of pool-managerd, behind its token: reloads the configuration file
 * as `SIGHUP` does and answers the `ReloadReport` (200), or 422 `CONFIG_INVALID` with the file's
 * issues when it is invalid (nothing changed).
 *
 * @since 0.1.0
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ConfigFile } from "@llama-orch/daemon-kit"
import { RpcHttpGuard } from "@llama-orch/pool-core"
import { ConfigReload } from "@llama-orch/pool-daemon"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/**
 * The route's path.
 *
 * @since 0.1.0
 */
export const path = "/admin/reload-config"

/**
 * The 422 body: the file's issues, each with its key path.
 *
 * @since 0.1.0
 */
export const ReloadRefused = Schema.Struct({
  error: Schema.Struct({
    code: Schema.Literal("CONFIG_INVALID"),
    message: Schema.String,
    issues: Schema.Array(ConfigFile.ConfigIssue)
  })
})

/**
 * The route, with the RPC's token check and body cap.
 *
 * @since 0.1.0
 */
export const layer = (options: {
  readonly token: Redacted.Redacted<string> | undefined
  readonly maxBodyBytes: number
}): Layer.Layer<never, never, HttpLayerRouter.HttpRouter | ConfigReload.ConfigReloader> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const reloader = yield* ConfigReload.ConfigReloader
    const handler = reloader.reload.pipe(
      Effect.flatMap(HttpServerResponse.schemaJson(ConfigReload.ReloadReport)),
      Effect.catchTag("ConfigError", (error) =>
        HttpServerResponse.schemaJson(ReloadRefused)({
          error: { code: "CONFIG_INVALID", message: error.message, issues: error.issues }
        }, { status: 422 })),
      Effect.orDie
    )
    return HttpLayerRouter.add("POST", path, RpcHttpGuard.guard(handler, options))
  }))
