/**
 * Secrets (bearer tokens) from the environment, a file, a systemd credential or the configuration
 * file, always held as `Redacted` so they never appear in logs or error messages.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { ConfigError, configError } from "./ConfigFile.js"

/**
 * Where to look for one secret.
 *
 * @category models
 * @since 0.1.0
 */
export interface SecretSource {
  /** The key of the secret in the configuration file, e.g. `token` (its file variant is `token_file`). */
  readonly key: string
  /** The environment variable, e.g. `POOL_MANAGERD_TOKEN` (its file variant is `POOL_MANAGERD_TOKEN_FILE`). */
  readonly env: string
  /** The value given in the configuration file, if any. */
  readonly value?: string | undefined
  /** The path given in the configuration file (`<key>_file`), if any. */
  readonly file?: string | undefined
  /**
   * The name of a systemd credential (`LoadCredential=`), e.g. `pool-managerd.token`: read from
   * `$CREDENTIALS_DIRECTORY/<credential>` when the service manager set that directory and the
   * credential is in it. A missing credential is not an error, so a unit can offer one that the
   * host may or may not provide.
   */
  readonly credential?: string | undefined
  /** Names the configuration file in errors. */
  readonly source?: string | undefined
}

/**
 * Reads a secret file, without its final newline. With `missing: "none"` a file that does not exist
 * is `None`; every other failure, and an empty file, is an error naming the key.
 */
const readSecretFile = (
  path: string,
  origin: string,
  key: string,
  missing: "fail" | "none" = "fail"
): Effect.Effect<Option.Option<Redacted.Redacted<string>>, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(path).pipe(
      Effect.map(Option.some),
      Effect.catchIf(
        (error) => missing === "none" && error._tag === "SystemError" && error.reason === "NotFound",
        () => Effect.succeedNone
      ),
      Effect.mapError((error) => configError(origin, key, `cannot read the secret file ${path}: ${error.message}`))
    )
    if (Option.isNone(text)) return Option.none()
    const value = text.value.replace(/\r?\n$/, "")
    if (value.trim().length === 0) return yield* configError(origin, key, `the secret file ${path} is empty`)
    return Option.some(Redacted.make(value))
  })

const nonEmpty = (value: string, origin: string, key: string): Effect.Effect<Redacted.Redacted<string>, ConfigError> =>
  value.trim().length === 0 ? configError(origin, key, "the secret is empty") : Effect.succeed(Redacted.make(value))

/**
 * The variable through which systemd tells a service where its credentials (`LoadCredential=`) are.
 *
 * @category constants
 * @since 0.1.0
 */
export const credentialsDirectoryEnv = "CREDENTIALS_DIRECTORY"

const envVar = (name: string): Effect.Effect<Option.Option<string>, ConfigError> =>
  Config.option(Config.string(name)).pipe(
    Effect.mapError(() => configError("environment", name, "cannot be read"))
  )

/**
 * Resolves a secret. The first of these that is set wins: the environment variable `env`, the file
 * named by `<env>_FILE`, the systemd credential `credential` (when the service manager passed it),
 * the configuration's `key`, the file named by the configuration's `<key>_file`.
 * Setting both `key` and `<key>_file` in one configuration file is an error, and so is an empty
 * secret. `None` when no source is set. Environment variables are read through Effect's `Config`,
 * so a `ConfigProvider` can supply them in tests.
 *
 * @category utils
 * @since 0.1.0
 */
export const resolveSecret = (
  options: SecretSource
): Effect.Effect<Option.Option<Redacted.Redacted<string>>, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const source = options.source ?? "configuration"
    if (options.value !== undefined && options.file !== undefined) {
      return yield* configError(source, options.key, `set either ${options.key} or ${options.key}_file, not both`)
    }
    const fromEnv = yield* envVar(options.env)
    if (Option.isSome(fromEnv)) return Option.some(yield* nonEmpty(fromEnv.value, "environment", options.env))
    const fileEnv = `${options.env}_FILE`
    const fromEnvFile = yield* envVar(fileEnv)
    if (Option.isSome(fromEnvFile)) return yield* readSecretFile(fromEnvFile.value, "environment", fileEnv)
    if (options.credential !== undefined) {
      const directory = yield* envVar(credentialsDirectoryEnv)
      if (Option.isSome(directory)) {
        const path = `${directory.value.replace(/\/+$/, "")}/${options.credential}`
        const fromCredential = yield* readSecretFile(path, "systemd credentials", options.credential, "none")
        if (Option.isSome(fromCredential)) return fromCredential
      }
    }
    if (options.value !== undefined) return Option.some(yield* nonEmpty(options.value, source, options.key))
    if (options.file !== undefined) {
      return yield* readSecretFile(options.file, source, `${options.key}_file`)
    }
    return Option.none()
  })
