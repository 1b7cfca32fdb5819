/**
 * A bounded text buffer that keeps the last characters of an engine's output.
 *
 * @internal
 */

/** How much output is kept per stream (64 KiB). */
export const outputBufferChars = 64 * 1024

/** Appends one line, keeping only the last `capacity` characters. */
export const appendLine = (buffer: string, line: string, capacity: number = outputBufferChars): string => {
  const next = buffer + line + "\n"
  return next.length > capacity ? next.slice(next.length - capacity) : next
}

/** The last `maxLines` lines (at most `maxChars` characters) of a buffer, for error messages. */
export const tail = (buffer: string, maxLines = 40, maxChars = 4096): string => {
  const lines = buffer.split("\n")
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop()
  const text = lines.slice(-maxLines).join("\n")
  return text.length > maxChars ? text.slice(text.length - maxChars) : text
}
