/**
 * `POST /admin/reload-config` of pool-managerd, behind its token: reloads the configuration file
 * as `SIGHUP` does and answers the `ReloadReport` (200), or 422 `CONFIG_INVALID` with the file's
 * issues when it is invalid (nothing changed).
 *
 * @since 0.1.0
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { RpcHttpGuard } from "@llama-orch/pool-core"
import { ConfigReload } from "@llama-orch/pool-daemon"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"

/**
 * The route's path.
 *
 * @category constants
 * @since 0.1.0
 */
export const path = "/admin/reload-config"

/**
 * The route, with the RPC's token check and body cap.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: {
  readonly token: Redacted.Redacted<string> | undefined
  readonly maxBodyBytes: number
}): Layer.Layer<never, never, HttpLayerRouter.HttpRouter | ConfigReload.ConfigReloader> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const reloader = yield* ConfigReload.ConfigReloader
    const handler = Effect.provideService(ConfigReload.respond, ConfigReload.ConfigReloader, reloader)
    return HttpLayerRouter.add("POST", path, RpcHttpGuard.guard(handler, options))
  }))
