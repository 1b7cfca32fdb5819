import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Secret } from "@llama-orch/daemon-kit"
import { ConfigProvider, Effect, Layer, Option, Redacted } from "effect"

const withEnv = (env: Record<string, string>) =>
  Effect.provide(
    Layer.merge(NodeContext.layer, Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
  )

const value = (secret: Option.Option<Redacted.Redacted<string>>) => Option.map(secret, Redacted.value)

describe("Secret.resolveSecret", () => {
  it.scoped("reads the environment, then *_FILE, then the config value, then the config file", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      yield* fs.writeFileString(`${dir}/env-token`, "from-env-file\n")
      yield* fs.writeFileString(`${dir}/config-token`, "from-config-file\n")
      const base = { key: "token", env: "DAEMON_TOKEN" }
      const fromEnv = yield* Secret.resolveSecret({ ...base, value: "from-config" }).pipe(
        withEnv({ DAEMON_TOKEN: "from-env", DAEMON_TOKEN_FILE: `${dir}/env-token` })
      )
      expect(value(fromEnv)).toEqual(Option.some("from-env"))
      const fromEnvFile = yield* Secret.resolveSecret({ ...base, value: "from-config" }).pipe(
        withEnv({ DAEMON_TOKEN_FILE: `${dir}/env-token` })
      )
      expect(value(fromEnvFile)).toEqual(Option.some("from-env-file"))
      const fromConfig = yield* Secret.resolveSecret({ ...base, value: "from-config" }).pipe(withEnv({}))
      expect(value(fromConfig)).toEqual(Option.some("from-config"))
      const fromConfigFile = yield* Secret.resolveSecret({ ...base, file: `${dir}/config-token` }).pipe(withEnv({}))
      expect(value(fromConfigFile)).toEqual(Option.some("from-config-file"))
      const none = yield* Secret.resolveSecret(base).pipe(withEnv({}))
      expect(none).toEqual(Option.none())
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("reads a systemd credential after the environment, and a missing one is no secret", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const credentials = yield* fs.makeTempDirectoryScoped()
      yield* fs.writeFileString(`${credentials}/daemon.token`, "from-credential\n")
      yield* fs.writeFileString(`${credentials}/empty.token`, "")
      const base = { key: "token", env: "DAEMON_TOKEN", credential: "daemon.token" }
      const withCredentials = (env: Record<string, string>) => withEnv({ CREDENTIALS_DIRECTORY: credentials, ...env })
      const fromEnv = yield* Secret.resolveSecret(base).pipe(withCredentials({ DAEMON_TOKEN: "from-env" }))
      expect(value(fromEnv)).toEqual(Option.some("from-env"))
      const fromCredential = yield* Secret.resolveSecret({ ...base, value: "from-config" }).pipe(withCredentials({}))
      expect(value(fromCredential)).toEqual(Option.some("from-credential"))
      // the unit offers the credential but the host has none: the configuration decides, or no token
      const missing = { ...base, credential: "absent.token" }
      const fallback = yield* Secret.resolveSecret({ ...missing, value: "from-config" }).pipe(withCredentials({}))
      expect(value(fallback)).toEqual(Option.some("from-config"))
      expect(yield* Secret.resolveSecret(missing).pipe(withCredentials({}))).toEqual(Option.none())
      // outside systemd the credential is not looked for
      expect(yield* Secret.resolveSecret(base).pipe(withEnv({}))).toEqual(Option.none())
      const empty = yield* Effect.flip(
        Secret.resolveSecret({ ...base, credential: "empty.token" }).pipe(withCredentials({}))
      )
      expect(empty.issues[0]?.path).toBe("empty.token")
      expect(empty.message).toContain("is empty")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("the secret is redacted when printed", () =>
    Effect.gen(function*() {
      const secret = yield* Secret.resolveSecret({ key: "token", env: "DAEMON_TOKEN", value: "s3cret" })
      expect(String(secret)).not.toContain("s3cret")
      expect(JSON.stringify(secret)).not.toContain("s3cret")
    }).pipe(withEnv({})))

  it.effect("rejects both token and token_file, empty secrets and unreadable files, naming the key", () =>
    Effect.gen(function*() {
      const both = yield* Effect.flip(
        Secret.resolveSecret({ key: "token", env: "DAEMON_TOKEN", value: "a", file: "/x", source: "d.yaml" })
      )
      expect(both.message).toContain("d.yaml")
      expect(both.issues[0]?.path).toBe("token")
      const empty = yield* Effect.flip(Secret.resolveSecret({ key: "token", env: "DAEMON_TOKEN", value: "  " }))
      expect(empty.issues[0]?.path).toBe("token")
      const unreadable = yield* Effect.flip(
        Secret.resolveSecret({ key: "token", env: "DAEMON_TOKEN", file: "/nonexistent/token" })
      )
      expect(unreadable.issues[0]?.path).toBe("token_file")
      expect(unreadable.message).toContain("/nonexistent/token")
    }).pipe(withEnv({})))
})
