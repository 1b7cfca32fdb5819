// A real HTTP client that streams a large body (no newline) and stops writing as soon as the
// server answers, for the body-size tests of both daemons.
import { Effect } from "effect"
import { request } from "node:http"

export interface StreamOutcome {
  /** The status the server answered with, if it answered before the connection ended. */
  readonly status: number | undefined
  readonly body: string
  readonly headers: Record<string, string | Array<string> | undefined>
  /** Bytes of the body written before the answer came (or the connection failed). */
  readonly written: number
  /** The socket error, if the connection failed before an answer (EPIPE, ECONNRESET...). */
  readonly error: string | undefined
}

export interface StreamOptions {
  readonly url: string
  readonly headers?: Record<string, string> | undefined
  /** Total body size; sent with `content-length` when `declare` is true, else chunked. */
  readonly bytes: number
  readonly declare: boolean
  readonly chunkBytes?: number | undefined
}

/** POSTs `bytes` of `x` to `url`, streaming, and resolves with the answer (never fails). */
export const streamBody = (options: StreamOptions): Effect.Effect<StreamOutcome> =>
  Effect.async<StreamOutcome>((resume) => {
    const chunk = Buffer.alloc(options.chunkBytes ?? 64 * 1024, "x")
    let written = 0
    let answered = false
    let settled = false
    const settle = (outcome: StreamOutcome) => {
      if (settled) return
      settled = true
      req.destroy()
      resume(Effect.succeed(outcome))
    }

    const req = request(options.url, {
      method: "POST",
      headers: {
        "content-type": "application/ndjson",
        ...(options.declare ? { "content-length": String(options.bytes) } : {}),
        ...options.headers
      }
    })
    req.on("response", (res) => {
      answered = true
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("error", () => undefined)
      res.on("end", () =>
        settle({
          status: res.statusCode,
          body: Buffer.concat(chunks).toString("utf8"),
          headers: res.headers,
          written,
          error: undefined
        }))
    })
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (answered) return
      settle({ status: undefined, body: "", headers: {}, written, error: error.code ?? error.message })
    })
    const pump = () => {
      while (!answered && !req.destroyed && written < options.bytes) {
        const n = Math.min(chunk.length, options.bytes - written)
        written += n
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once("drain", pump)
      }
      if (!answered && !req.destroyed && written >= options.bytes) req.end()
    }
    pump()
    return Effect.sync(() => req.destroy())
  })

/** The resident set size of a process, in bytes (Linux `/proc/<pid>/status` VmRSS). */
export const residentBytes = (pid: number): Effect.Effect<number> =>
  Effect.promise(() => import("node:fs/promises").then((fs) => fs.readFile(`/proc/${pid}/status`, "utf8"))).pipe(
    Effect.map((status) => {
      const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)
      return match === null ? Number.NaN : Number(match[1]) * 1024
    })
  )
