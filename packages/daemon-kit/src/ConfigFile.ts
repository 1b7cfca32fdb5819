/**
 * Daemon configuration files: one YAML file per daemon, decoded with a `Schema`. Keys are snake_case
 * in the file, and a bad file fails with a `ConfigError` whose message names the file and the path of
 * every bad field, so an operator can fix it without reading code.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Yaml from "yaml"

/**
 * One problem in a configuration: where (`path`, e.g. `pools.0.ctx_max`) and what is wrong.
 *
 * @category models
 * @since 0.1.0
 */
export class ConfigIssue extends Schema.Class<ConfigIssue>("ConfigIssue")({
  path: Schema.String,
  message: Schema.String
}) {}

/**
 * A configuration could not be read or is not valid. `source` is the file (or `"command line"`,
 * `"environment"`), `issues` the problems found; `message` lists them one per line.
 *
 * @category errors
 * @since 0.1.0
 */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  source: Schema.String,
  issues: Schema.Array(ConfigIssue)
}) {
  override get message(): string {
    const lines = this.issues.map((issue) =>
      issue.path === "" ? `  ${issue.message}` : `  ${issue.path}: ${issue.message}`
    )
    return [`invalid configuration in ${this.source}:`, ...lines].join("\n")
  }
}

/**
 * Makes a `ConfigError` with a single issue.
 *
 * @category utils
 * @since 0.1.0
 */
export const configError = (source: string, path: string, message: string): ConfigError =>
  new ConfigError({ source, issues: [new ConfigIssue({ path, message })] })

const formatPath = (path: ReadonlyArray<PropertyKey>): string => path.map((key) => String(key)).join(".")

/**
 * Turns a Schema parse error into the issues of a `ConfigError`, one per bad field, with dotted
 * paths (`pools.0.slots`).
 *
 * @category utils
 * @since 0.1.0
 */
export const issuesFromParseError = (error: ParseResult.ParseError): ReadonlyArray<ConfigIssue> => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const within = (inner: ReadonlyArray<PropertyKey>, outer: ReadonlyArray<PropertyKey>) =>
    inner.length >= outer.length && outer.every((key, i) => key === inner[i])
  // an optional field is a union with `undefined`: its "Expected undefined" branch only adds noise
  // when the field's real problem is reported too
  const useful = issues.filter((issue, index) =>
    !optionalNoise.test(issue.message) ||
    !issues.some((other, j) => j !== index && !optionalNoise.test(other.message) && within(other.path, issue.path))
  )
  // one issue per field: the alternatives of a union are joined
  const byPath = new Map<string, Array<string>>()
  // a secret of the wrong type must not be echoed (`token: 123456789012` printed the number)
  for (const issue of useful.map(withoutValue)) {
    const path = formatPath(issue.path)
    const messages = byPath.get(path) ?? []
    if (!messages.includes(issue.message)) messages.push(issue.message)
    byPath.set(path, messages)
  }
  return [...byPath].map(([path, messages]) => new ConfigIssue({ path, message: messages.join(" or ") }))
}

/**
 * Whether a config key holds a secret, whose value must never be printed: `token` as a word of the
 * key's end (`token`, `api_token`, `token_file`), any key with `secret` or `password` in it, and `key` or
 * any `*_key`. Token counts such as `max_tokens` are not secrets.
 *
 * @category guards
 * @since 0.1.0
 */
export const isSecretKey = (key: PropertyKey): boolean =>
  // `token`, `token_file`, `api_token`, `secret…`, `password`, `api_key` — not `max_tokens`
  typeof key === "string" && (/(^|_)token(_file)?$|secret|password/i.test(key) || /(^|_)key$/i.test(key))

const valueShown = /, actual [\s\S]*$/

/** An issue of a secret field without the value it found (the expected type is kept). */
const withoutValue = (issue: ParseResult.ArrayFormatterIssue): ParseResult.ArrayFormatterIssue => {
  const key = issue.path[issue.path.length - 1]
  if (key === undefined || !isSecretKey(key) || issue._tag === "Missing" || issue._tag === "Unexpected") return issue
  const expected = issue.message.replace(valueShown, "")
  const message = expected !== issue.message && expected.startsWith("Expected ")
    ? `${expected} (the value is not shown: it is a secret)`
    : "invalid value (not shown: it is a secret)"
  return { ...issue, message }
}

const optionalNoise = /^Expected undefined, actual /

/**
 * Decodes an already parsed document (for example YAML or JSON) with `schema`, reporting every bad
 * field of it (not only the first).
 *
 * @category utils
 * @since 0.1.0
 */
export const decodeConfig = <A, I>(
  schema: Schema.Schema<A, I>,
  input: unknown,
  source: string
): Effect.Effect<A, ConfigError> =>
  Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "error" })(input).pipe(
    Effect.mapError((error) => new ConfigError({ source, issues: issuesFromParseError(error) }))
  )

/**
 * Parses YAML text. An empty document is `{}`, so a file with only comments means "all defaults".
 *
 * @category utils
 * @since 0.1.0
 */
export const parseYaml = (text: string, source: string): Effect.Effect<unknown, ConfigError> =>
  Effect.gen(function*() {
    const document = Yaml.parseDocument(text, { prettyErrors: true, uniqueKeys: true })
    if (document.errors.length > 0) {
      return yield* new ConfigError({
        source,
        issues: document.errors.map((error) => new ConfigIssue({ path: "", message: error.message }))
      })
    }
    const value: unknown = document.toJS()
    return value === null || value === undefined ? {} : value
  })

/**
 * Reads a YAML file and decodes it with `schema`. Fails with a `ConfigError` naming the file when it
 * cannot be read, is not YAML, or does not match the schema (naming every bad field).
 *
 * @category utils
 * @since 0.1.0
 */
export const loadYamlFile = <A, I>(
  schema: Schema.Schema<A, I>,
  file: string
): Effect.Effect<A, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError((error) => configError(file, "", `cannot read the file: ${error.message}`))
    )
    const input = yield* parseYaml(text, file)
    return yield* decodeConfig(schema, input, file)
  })
