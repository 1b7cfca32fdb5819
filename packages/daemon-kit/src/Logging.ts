/**
 * JSON-lines logging for daemons: one JSON object per line on **stderr** (stdout carries only the
 * `listening on …` line), with `timestamp`, `level`, `message` (a plain sentence for people) and
 * the log annotations (`pool_id`, `engine`, `correlation_id`, …) as top-level fields.
 * `Redacted` values are written as `<redacted>`.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as HashMap from "effect/HashMap"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"

const reserved = new Set(["timestamp", "level", "message", "cause", "details"])

const jsonSafe = (value: unknown): unknown => {
  if (Redacted.isRedacted(value)) return "<redacted>"
  if (typeof value === "bigint") return value.toString()
  if (value instanceof Error) return { name: value.name, message: value.message }
  return Inspectable.toJSON(value)
}

const replacer = (_key: string, value: unknown): unknown => jsonSafe(value)

/**
 * Formats one log entry as a JSON line (without the trailing newline).
 *
 * @category utils
 * @since 0.1.0
 */
export const formatEntry = (options: Logger.Logger.Options<unknown>): string => {
  const parts = Array.isArray(options.message) ? options.message : [options.message]
  const text: Array<string> = []
  const details: Array<unknown> = []
  for (const part of parts) {
    if (typeof part === "string") text.push(part)
    else details.push(part)
  }
  const entry: Record<string, unknown> = {
    timestamp: options.date.toISOString(),
    level: options.logLevel.label.toLowerCase(),
    message: text.join(" ")
  }
  for (const [key, value] of HashMap.toEntries(options.annotations)) {
    entry[reserved.has(key) ? `annotation_${key}` : key] = value
  }
  if (details.length > 0) entry.details = details
  if (!Cause.isEmpty(options.cause)) entry.cause = Cause.pretty(options.cause, { renderErrorCause: true })
  try {
    return JSON.stringify(entry, replacer)
  } catch {
    return JSON.stringify({ timestamp: entry.timestamp, level: entry.level, message: entry.message })
  }
}

/**
 * The JSON-lines logger, writing to a sink (stderr by default).
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeJsonLogger = (
  write: (line: string) => void = (line) => process.stderr.write(line)
): Logger.Logger<unknown, void> => Logger.make((options) => write(`${formatEntry(options)}\n`))

/**
 * Replaces the default logger with the JSON-lines logger on stderr and sets the minimum level
 * (default `Info`). Run the program with `NodeRuntime.runMain(…, { disablePrettyLogger: true })` (see
 * `DaemonMain.run`) or every line is logged twice.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: { readonly level?: LogLevel.LogLevel | undefined }): Layer.Layer<never> =>
  Layer.merge(
    Logger.replace(Logger.defaultLogger, makeJsonLogger()),
    Logger.minimumLogLevel(options?.level ?? LogLevel.Info)
  )
