/**
 * A test helper for `/metrics`: lint a Prometheus text exposition with Prometheus' own
 * `promtool check metrics`, and read it back as metric families for assertions. `promtool` comes
 * with Debian's `prometheus` package.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as PlatformError from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

/**
 * `promtool` is not installed (or not on `PATH`).
 *
 * @category errors
 * @since 0.1.0
 */
export class PromtoolMissing extends Schema.TaggedError<PromtoolMissing>()("PromtoolMissing", {
  command: Schema.String
}) {
  override get message(): string {
    return `${this.command} was not found: install it (Debian package "prometheus"; scripts/test-tools.sh does)`
  }
}

/**
 * What `promtool check metrics` said: its exit code and everything it printed (one problem a line).
 *
 * @category models
 * @since 0.1.0
 */
export interface CheckResult {
  readonly exitCode: number
  readonly output: string
}

const collect = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  stream.pipe(Stream.decodeText(), Stream.runFold("", (all, chunk) => all + chunk))

/**
 * Runs `promtool check metrics` on `text` (fed on its standard input). Exit code 0 and no output
 * mean the exposition parses and breaks none of promtool's naming rules.
 *
 * @category utils
 * @since 0.1.0
 */
export const checkMetrics = (
  text: string,
  options: { readonly command?: string | undefined } = {}
): Effect.Effect<CheckResult, PromtoolMissing | PlatformError.PlatformError, CommandExecutor.CommandExecutor> => {
  const command = options.command ?? "promtool"
  return Effect.scoped(Effect.gen(function*() {
    const proc = yield* Command.start(Command.make(command, "check", "metrics").pipe(Command.feed(text))).pipe(
      Effect.catchTag(
        "SystemError",
        (error): Effect.Effect<never, PromtoolMissing | PlatformError.PlatformError> =>
          error.reason === "NotFound" ? Effect.fail(new PromtoolMissing({ command })) : Effect.fail(error)
      )
    )
    const [stdout, stderr, exitCode] = yield* Effect.all([collect(proc.stdout), collect(proc.stderr), proc.exitCode], {
      concurrency: "unbounded"
    })
    return { exitCode, output: `${stdout}${stderr}` }
  }))
}

/**
 * One sample line: its name (with any `_bucket`, `_sum`, `_count` suffix), labels as written
 * (`{a="1",b="2"}` or empty) and value.
 *
 * @category models
 * @since 0.1.0
 */
export interface Sample {
  readonly name: string
  readonly labels: string
  readonly value: number
}

/**
 * A metric family: its `# TYPE`, its `# HELP` text and its samples.
 *
 * @category models
 * @since 0.1.0
 */
export interface Family {
  readonly type: string | undefined
  readonly help: string | undefined
  readonly samples: ReadonlyArray<Sample>
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$/
const familySuffixes = ["_bucket", "_sum", "_count"]
const grouped: ReadonlySet<string | undefined> = new Set(["histogram", "summary"])

/**
 * Reads an exposition into its families by name. A histogram's (or summary's) `_bucket`, `_sum`
 * and `_count` samples belong to its family. A line that is none of `# HELP`, `# TYPE`, another
 * comment or a sample is an error.
 *
 * @category utils
 * @since 0.1.0
 */
export const parse = (text: string): Effect.Effect<ReadonlyMap<string, Family>, string> =>
  Effect.suspend(() => {
    const families = new Map<string, { type: string | undefined; help: string | undefined; samples: Array<Sample> }>()
    const family = (name: string) => {
      const found = families.get(name)
      if (found !== undefined) return found
      const made = { type: undefined, help: undefined, samples: [] }
      families.set(name, made)
      return made
    }
    for (const line of text.split("\n")) {
      if (line === "") continue
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (meta !== null) {
        const [, kind, name = "", rest = ""] = meta
        if (kind === "HELP") family(name).help = rest
        else family(name).type = rest
        continue
      }
      if (line.startsWith("#")) continue
      const sample = sampleLine.exec(line)
      if (sample === null) return Effect.fail(`malformed line: ${line}`)
      const name = sample[1] ?? ""
      const suffix = familySuffixes.find((s) =>
        name.endsWith(s) && grouped.has(families.get(name.slice(0, -s.length))?.type)
      )
      family(suffix === undefined ? name : name.slice(0, -suffix.length)).samples.push({
        name,
        labels: sample[2] ?? "",
        value: Number(sample[3])
      })
    }
    return Effect.succeed(families)
  })

/**
 * Options of `conventions`.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConventionOptions {
  /** Every family's name must start with one of these (e.g. the daemon's prefix, `process_`, `nodejs_`). */
  readonly prefixes: ReadonlyArray<string>
}

const baseUnits = ["_seconds", "_bytes"]

/**
 * What the exposition's families break of the naming conventions that `promtool` does not check:
 * a name outside `prefixes`, a missing or placeholder `# HELP`, a `*_total` that is not a counter or
 * a counter that is not `*_total`, a histogram or summary not in a base unit (`_seconds`,
 * `_bytes`), and milliseconds anywhere in a name. One sentence a problem; none when it conforms.
 *
 * @category utils
 * @since 0.1.0
 */
export const conventions = (
  families: ReadonlyMap<string, Family>,
  options: ConventionOptions
): ReadonlyArray<string> => {
  const problems: Array<string> = []
  for (const [name, family] of families) {
    if (!options.prefixes.some((prefix) => name.startsWith(prefix))) {
      problems.push(`${name} does not start with ${options.prefixes.join(" or ")}`)
    }
    if (family.help === undefined || family.help === "" || family.help === "description missing") {
      problems.push(`${name} has no HELP text`)
    }
    if (name.endsWith("_total") !== (family.type === "counter")) {
      problems.push(`${name} is a ${family.type ?? "untyped metric"}: only counters, and all of them, end in _total`)
    }
    if ((family.type === "histogram" || family.type === "summary") && !baseUnits.some((u) => name.endsWith(u))) {
      problems.push(`${name} is a ${family.type} whose name does not end in ${baseUnits.join(" or ")}`)
    }
    if (/_ms(_|$)|millis/.test(name)) problems.push(`${name} is in milliseconds, not seconds`)
  }
  return problems
}

/**
 * What `lint` found: promtool's exit code and output, and the broken conventions.
 *
 * @category models
 * @since 0.1.0
 */
export interface LintResult extends CheckResult {
  readonly problems: ReadonlyArray<string>
}

/**
 * `checkMetrics` and `conventions` in one: a conforming exposition gives
 * `{ exitCode: 0, output: "", problems: [] }`. A malformed line is a problem.
 *
 * @category utils
 * @since 0.1.0
 */
export const lint = (
  text: string,
  options: ConventionOptions & { readonly command?: string | undefined }
): Effect.Effect<LintResult, PromtoolMissing | PlatformError.PlatformError, CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    const checked = yield* checkMetrics(text, options)
    const problems = yield* parse(text).pipe(
      Effect.map((families) => conventions(families, options)),
      Effect.catchAll((malformed) => Effect.succeed([malformed]))
    )
    return { ...checked, problems }
  })
