/**
 * The handlers of the `admin` group of the HTTP API: reloading the configuration file.
 *
 * @internal
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { ConfigReload } from "@llama-orch/pool-daemon"
import * as Effect from "effect/Effect"
import { OrchestratorApi } from "../Api.js"

/** The handlers of `/v2/admin`: the configuration reload. */
export const AdminLive = HttpApiBuilder.group(OrchestratorApi, "admin", (handlers) =>
  Effect.gen(function*() {
    const reloader = yield* ConfigReload.ConfigReloader
    const respond = Effect.provideService(ConfigReload.respond, ConfigReload.ConfigReloader, reloader)
    return handlers.handleRaw("reloadConfig", () => respond)
  }))
