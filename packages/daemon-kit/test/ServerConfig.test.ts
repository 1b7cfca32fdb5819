import { describe, expect, it } from "@effect/vitest"
import { ConfigFile, ServerConfig } from "@llama-orch/daemon-kit"
import { Effect, Schema } from "effect"

const Server = Schema.Struct(ServerConfig.fields({ host: "127.0.0.1", port: 8080, maxBodyBytes: 1024 }))

const decode = (input: unknown) => ConfigFile.decodeConfig(Server, input, "daemon.yaml")

describe("ServerConfig", () => {
  it.effect("an empty file is the daemon's defaults", () =>
    Effect.gen(function*() {
      expect(yield* decode({})).toEqual({
        host: "127.0.0.1",
        port: 8080,
        allowedHosts: [],
        allowedOrigins: [],
        maxBodyBytes: 1024
      })
    }))

  it.effect("maps the snake_case keys onto camelCase fields", () =>
    Effect.gen(function*() {
      const config = yield* decode({
        host: "0.0.0.0",
        port: 0,
        token: "t",
        token_file: "/run/t",
        log_level: "debug",
        allowed_hosts: ["llm.internal"],
        allowed_origins: ["https://ui.example"],
        max_body_bytes: 10
      })
      expect(config).toEqual({
        host: "0.0.0.0",
        port: 0,
        token: "t",
        tokenFile: "/run/t",
        logLevel: "debug",
        allowedHosts: ["llm.internal"],
        allowedOrigins: ["https://ui.example"],
        maxBodyBytes: 10
      })
    }))

  it.effect("names the file's keys in errors and lists them in order, never showing a secret", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(decode({ tokenFile: "/x", token: 42, max_body_bytes: 0 }))
      expect(error.issues.map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
        `tokenFile: is unexpected, expected: "host" | "port" | "token" | "token_file" | "log_level" | "allowed_hosts" | "allowed_origins" | "max_body_bytes"`,
        "token: Expected string (the value is not shown: it is a secret)",
        "max_body_bytes: Expected a positive number, actual 0"
      ])
    }))
})
