/**
 * An engine's load progress, read from the tail of its stderr: the last line that speaks of loading
 * (llama-server's `llama_model_loader: ...`/`load_tensors: ...`, vLLM's `Loading safetensors
 * checkpoint shards:  50% Completed | 1/2`), and the percentage in it when there is one.
 *
 * @internal
 */

const loadingLine = /load|tensor|shard|weight|warm|graph|%/i
const percent = /(\d{1,3}(?:\.\d+)?)\s?%/

/** The last progress line of an engine's output (at most 200 characters) and its fraction done. */
export const progressOf = (
  tail: string
): { readonly progress?: string | undefined; readonly fraction?: number | undefined } => {
  // progress bars redraw a line with \r: each redraw counts as a line
  const lines = tail.split(/[\r\n]+/)
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] ?? "").trim()
    if (line === "" || !loadingLine.test(line)) continue
    const match = percent.exec(line)
    const value = match === null ? undefined : Number(match[1]) / 100
    return {
      progress: line.length > 200 ? `${line.slice(0, 197)}...` : line,
      fraction: value === undefined || !Number.isFinite(value) ? undefined : Math.min(1, Math.max(0, value))
    }
  }
  return {}
}
