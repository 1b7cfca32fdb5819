/**
 * A secret of the wrong type in orchestratord's config file is reported without its value: the
 * error names the field and the expected type, never what was found (pool-managerd's own test
 * checks its file).
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigFile } from "@llama-orch/daemon-kit"
import { Effect, Schema } from "effect"
import * as OrchestratordConfig from "../src/Config.js"

const secret = 123456789012

const message = <A, I>(schema: Schema.Schema<A, I>, input: unknown) =>
  Effect.map(Effect.flip(ConfigFile.decodeConfig(schema, input, "daemon.yaml")), (error) => error.message)

describe("secrets in config errors", () => {
  it.effect("orchestratord: token and pool_manager.token of the wrong type", () =>
    Effect.gen(function*() {
      const text = yield* message(OrchestratordConfig.ConfigFile, {
        token: secret,
        pool_manager: { url: "http://127.0.0.1:9200", token: [secret] }
      })
      expect(text).toContain("token: Expected string (the value is not shown: it is a secret)")
      expect(text).toContain("pool_manager.token: Expected string (the value is not shown: it is a secret)")
      expect(text).not.toContain(String(secret))
    }))

  it("names secret keys: token, *_token, token_*, *_key, secrets and passwords, not token counts", () => {
    for (const key of ["token", "api_token", "token_file", "api_key", "client_secret", "password"]) {
      expect(ConfigFile.isSecretKey(key)).toBe(true)
    }
    for (const key of ["port", "host", "keys", "openai_default_max_tokens", "session_token_budget", "monkey", 0]) {
      expect(ConfigFile.isSecretKey(key)).toBe(false)
    }
  })
})
