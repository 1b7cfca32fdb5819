/**
 * Relay benchmark: token streaming through orchestratord (a real process, embedded pool on the mock
 * engine) against streaming straight from a mock engine with the same flags, in the same run, at 1,
 * 64 and 256 concurrent streams. Both paths use the same request (`POST /v1/completions` with
 * `stream: true`); the native path (`POST /v2/tasks` + SSE) is measured too, and so is a bare
 * `node:http` relay (`plainRelay.mjs`): the floor any relay process has on this machine, and the same
 * relay on the Effect platform (`effectRelay.ts`): the floor of a relay built like orchestratord. Reports
 * aggregate tokens per second, time to first token (TTFT), orchestratord's CPU time per relayed
 * token and its peak RSS.
 *
 *   node --conditions=@llama-orch/source --import tsx bench/relay/index.ts
 */
import { mockEngineCommand } from "@llama-orch/mock-engine"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type BenchTable, isEntryPoint, percentile, renderTable } from "../lib/BenchTable.js"
import { readData, waitReady } from "../lib/Http.js"
import { cpuMs, daemonSource, start, stop } from "../lib/Processes.js"

const root = fileURLToPath(new URL("../..", import.meta.url))
/** Concurrent streams and tokens per stream; 64 streams also with 4× longer outputs, which split
 * what a relay costs per request from what it costs per token. */
const runs = [
  { streams: 1, tokens: 100 },
  { streams: 64, tokens: 100 },
  { streams: 64, tokens: 400 },
  { streams: 256, tokens: 100 }
] as const
const tps = 100
const slots = 256
/** Short requests served on every path before measuring. */
const warmUpRequests = 400
/** Batches per path at each concurrency above one. */
const repeats = 3

interface StreamResult {
  readonly ttftMs: number
  readonly tokens: number
  readonly error?: string | undefined
  /** Requests sent again because the connection they went out on closed before any answer. */
  readonly retries: number
}

/**
 * `fetch`, sent once more when it fails before any answer: Node's client can reuse a keep-alive
 * connection in the instant the server closes it as idle (every server here keeps them 5 s), and
 * a burst after a pause meets that now and then. Any client in service retries that; the retry is
 * counted and reported.
 */
const send = async (url: string, init?: RequestInit): Promise<{ response: Response; retried: boolean }> => {
  try {
    return { response: await fetch(url, init), retried: false }
  } catch {
    return { response: await fetch(url, init), retried: true }
  }
}

const body = (i: number, tokens: number) =>
  JSON.stringify({ model: "mock-model", prompt: `relay ${i}`, max_tokens: tokens, stream: true, seed: i })

/** One OpenAI-style streaming completion; tokens are the chunks with text. */
const openAiStream = async (base: string, i: number, maxTokens = 100): Promise<StreamResult> => {
  const t0 = performance.now()
  let ttft = Number.NaN
  let tokens = 0
  const { response, retried } = await send(`${base}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body(i, maxTokens)
  })
  let error: string | undefined
  await readData(response, (data) => {
    if (data.startsWith("{\"error\"")) error = data.slice(0, 200)
    if (data === "[DONE]" || !data.includes("\"text\":\"") || data.includes("\"text\":\"\"")) return
    if (tokens === 0) ttft = performance.now() - t0
    tokens++
  })
  return {
    ttftMs: ttft,
    tokens,
    error: error ?? (response.ok ? undefined : `HTTP ${response.status}`),
    retries: retried ? 1 : 0
  }
}

/** The native path: submit, then the task's event stream. */
const nativeStream = async (base: string, i: number, maxTokens = 100): Promise<StreamResult> => {
  const t0 = performance.now()
  let ttft = Number.NaN
  let tokens = 0
  const submitted = await send(`${base}/v2/tasks`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model_ref: "mock-model", prompt: `relay ${i}`, max_tokens: maxTokens, seed: i })
  })
  const accepted: unknown = await submitted.response.json()
  const streams = typeof accepted === "object" && accepted !== null && "streams" in accepted
    ? accepted.streams
    : undefined
  const sse = typeof streams === "object" && streams !== null && "sse" in streams ? streams.sse : undefined
  if (typeof sse !== "string") return { ttftMs: Number.NaN, tokens: 0, retries: submitted.retried ? 1 : 0 }
  const { response, retried } = await send(`${base}${sse}`)
  let error: string | undefined
  await readData(response, (data) => {
    if (data.startsWith("{\"code\"")) error = data.slice(0, 200)
    if (!data.startsWith("{\"t\":")) return
    if (tokens === 0) ttft = performance.now() - t0
    tokens++
  })
  return { ttftMs: ttft, tokens, error, retries: (submitted.retried ? 1 : 0) + (retried ? 1 : 0) }
}

interface RunResult {
  readonly tokensPerSecond: number
  readonly ttftP50: number
  readonly ttftP95: number
  readonly tokens: number
  readonly errors: ReadonlyArray<string>
  readonly retries: number
}

/** What one or more batches measured: every stream's result, their wall time and `pid`'s CPU time. */
interface Batches {
  readonly results: ReadonlyArray<StreamResult>
  readonly seconds: number
  readonly cpuMs: number
}

/** `rounds` batches of `concurrency` simultaneous streams, one batch after the other. */
const batches = async (
  concurrency: number,
  stream: (i: number) => Promise<StreamResult>,
  rounds = 1,
  pid?: number
): Promise<Batches> => {
  const cpuBefore = cpuMs(pid)
  const t0 = performance.now()
  const results: Array<StreamResult> = []
  for (let r = 0; r < rounds; r++) {
    results.push(...await Promise.all(Array.from({ length: concurrency }, (_, i) => stream(r * concurrency + i))))
  }
  return { results, seconds: (performance.now() - t0) / 1000, cpuMs: cpuMs(pid) - cpuBefore }
}

/** Throughput, TTFT percentiles and CPU per token over all the streams of `measured`. */
const summarize = (measured: ReadonlyArray<Batches>): RunResult & { readonly cpuUsPerToken: number } => {
  const results = measured.flatMap((m) => m.results)
  const seconds = measured.reduce((s, m) => s + m.seconds, 0)
  const tokens = results.reduce((n, r) => n + r.tokens, 0)
  const ttfts = results.map((r) => r.ttftMs)
  const errors = [...new Set(results.flatMap((r) => r.error === undefined ? [] : [r.error]))]
  return {
    tokensPerSecond: tokens / seconds,
    ttftP50: percentile(ttfts, 50),
    ttftP95: percentile(ttfts, 95),
    tokens,
    errors,
    retries: results.reduce((n, r) => n + r.retries, 0),
    cpuUsPerToken: (measured.reduce((s, m) => s + m.cpuMs, 0) * 1000) / tokens
  }
}

const peakRssMb = (pid: number | undefined): number => {
  if (pid === undefined) return Number.NaN
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1])
    return Math.round(kb / 1024)
  } catch {
    return Number.NaN
  }
}

export const run = async (): Promise<BenchTable> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "relay-bench-"))
  const config = path.join(dir, "orchestratord.yaml")
  fs.writeFileSync(
    config,
    [
      "log_level: warning",
      `state_dir: ${JSON.stringify(path.join(dir, "state"))}`,
      "probe_timeout_ms: 10000",
      "liveness:",
      "  failures: 10",
      "queue:",
      "  capacity: 4096",
      "  first_token_timeout_ms: 300000",
      "  idle_timeout_ms: 120000",
      "engines:",
      "  - name: mock",
      "    mock: true",
      `    args: ["--tps", "${tps}"]`,
      "pools:",
      "  - id: bench-0",
      "    engine: mock",
      "    model: mock-model",
      `    slots: ${slots}`,
      "    ctx_max: 8192"
    ].join("\n")
  )
  const mock = mockEngineCommand()
  const engine = await start(mock.command, [
    ...mock.args,
    ...["--host", "127.0.0.1", "--port", "0", "--model", "mock-model", "--slots", String(slots)],
    ...["--ctx", "8192", "--tps", String(tps)]
  ])
  const plain = await start(process.execPath, [path.join(root, "bench/relay/plainRelay.mjs"), engine.url])
  const effectFloor = await start(process.execPath, [
    "--conditions=@llama-orch/source",
    "--import",
    "tsx",
    path.join(root, "bench/relay/effectRelay.ts"),
    engine.url
  ])
  const orchestratord = await start(process.execPath, [
    "--conditions=@llama-orch/source",
    "--import",
    "tsx",
    daemonSource("orchestratord"),
    "--config",
    config,
    "--port",
    "0"
  ])
  const rows: Array<Array<string | number>> = []
  const notes: Array<string> = []
  try {
    await waitReady(`${engine.url}/health`)
    await waitReady(`${orchestratord.url}/ready`)
    // the five paths, each with the label its notes use; a relay's CPU is read around its own batches only
    const pid = orchestratord.proc.pid
    const paths = {
      direct: { label: "direct", stream: (i: number, n?: number) => openAiStream(engine.url, i, n), pid: undefined },
      floor: { label: "plain", stream: (i: number, n?: number) => openAiStream(plain.url, i, n), pid: plain.proc.pid },
      effect: {
        label: "effect",
        stream: (i: number, n?: number) => openAiStream(effectFloor.url, i, n),
        pid: effectFloor.proc.pid
      },
      relayed: { label: "/v1", stream: (i: number, n?: number) => openAiStream(orchestratord.url, i, n), pid },
      native: { label: "/v2", stream: (i: number, n?: number) => nativeStream(orchestratord.url, i, n), pid }
    }
    const names = ["direct", "floor", "effect", "relayed", "native"] as const
    type Name = (typeof names)[number]
    /** One value per path. */
    const perPath = <A>(f: (name: Name) => A): Record<Name, A> => ({
      direct: f("direct"),
      floor: f("floor"),
      effect: f("effect"),
      relayed: f("relayed"),
      native: f("native")
    })
    // warm-up: the engines' first requests and the JIT. A daemon serves thousands of requests: its
    // per-request code (not only its per-token code) is measured optimized, so every path first
    // serves warmUpRequests short requests, then 16 full ones
    for (const name of names) {
      await batches(16, (i) => paths[name].stream(i, 4), warmUpRequests / 16)
      await batches(16, (i) => paths[name].stream(i))
    }
    for (const { streams: c, tokens: n } of runs) {
      // a single stream is repeated so its TTFT percentiles mean something; concurrent batches are
      // repeated, the paths taking turns, so that a busy moment of the machine falls on all
      const rounds = c === 1 ? 20 : 1
      const batchesPerPath = c === 1 ? 1 : repeats
      const measured = perPath((): Array<Batches> => [])
      for (let repeat = 0; repeat < batchesPerPath; repeat++) {
        for (const name of names) {
          const path = paths[name]
          // each batch follows a short one at its own concurrency, so that every hop has its
          // connections open (idle keep-alive connections close after ~4 s): otherwise the first
          // path measured at a new concurrency would pay for connecting what the next ones reuse
          await batches(c, (i) => path.stream(i, 4))
          measured[name].push(await batches(c, (i) => path.stream(i, n), rounds, path.pid))
        }
      }
      const results = perPath((name) => summarize(measured[name]))
      const { direct, effect, floor, native, relayed } = results
      const all = names.map((name) => results[name])
      const each = (count: (r: RunResult) => number | string) =>
        names.map((name) => `${count(results[name])} ${paths[name].label}`).join(", ")
      const fmt = (n: number) => Number(n.toFixed(1))
      const ratio = (r: RunResult) => Number((r.tokensPerSecond / direct.tokensPerSecond).toFixed(3))
      rows.push([
        c,
        n,
        Math.round(direct.tokensPerSecond),
        Math.round(floor.tokensPerSecond),
        Math.round(effect.tokensPerSecond),
        Math.round(relayed.tokensPerSecond),
        Math.round(native.tokensPerSecond),
        ratio(floor),
        ratio(effect),
        ratio(relayed),
        fmt(direct.ttftP50),
        fmt(floor.ttftP50 - direct.ttftP50),
        fmt(effect.ttftP50 - direct.ttftP50),
        fmt(relayed.ttftP50 - direct.ttftP50),
        fmt(native.ttftP50 - direct.ttftP50),
        fmt(relayed.ttftP95 - direct.ttftP95),
        Math.round(floor.cpuUsPerToken),
        Math.round(effect.cpuUsPerToken),
        Math.round(relayed.cpuUsPerToken),
        Math.round(native.cpuUsPerToken)
      ])
      if (all.some((r) => r.retries > 0)) {
        notes.push(
          `at ${c} streams of ${n} tokens, requests sent again after their connection closed unanswered: ` +
            each((r) => r.retries)
        )
      }
      const expected = batchesPerPath * rounds * c * n
      if (all.some((r) => r.tokens !== expected)) {
        notes.push(
          `at ${c} streams of ${n} tokens, tokens received: ${each((r) => r.tokens)} (expected ${expected}); ` +
            `stream errors: ${all.flatMap((r) => r.errors).join("; ") || "none"}`
        )
      }
    }
    notes.unshift(
      `peak RSS of orchestratord after the 256-stream runs: ${peakRssMb(orchestratord.proc.pid)} MiB (VmHWM)`,
      `mock engines with --tps ${tps} per stream, ${slots} slots; orchestratord is a real process with an embedded pool; client, engines and daemon share one machine (${os.cpus().length} CPUs)`,
      `tok/s: aggregate tokens received by the client divided by the wall time of the batches (${repeats} per path at 64 and 256 streams, the paths taking turns); ratio = relayed / direct`,
      "plain: a bare node:http relay (bench/relay/plainRelay.mjs) in front of the same engine — the floor any relay process has on this machine",
      "effect: the same relay on @effect/platform's Node server with orchestrator-core's engine transport (bench/relay/effectRelay.ts), no queue, lease or validation — the floor of a relay built like orchestratord",
      `warm-up: every path first serves ${warmUpRequests} requests of 4 tokens (16 at a time) and 16 of 100 tokens; each measured batch follows a batch of 4-token requests at its own concurrency on the same path`,
      "TTFT: from sending the request to the first token at the client; added = relayed minus direct (p50, p95); the 1-stream row is 20 streams one after the other",
      "CPU µs/token: user + system time of the relay process (orchestratord: not its engine) during the batch, divided by the tokens received (its batches only); Linux charges CPU time in 10 ms ticks, which overcharges a process woken by timers at low load, so read it at 64 streams and more",
      `machine load average when the run ended: ${
        os.loadavg().map((l) => l.toFixed(1)).join(", ")
      } (other work on the machine inflates every number)`
    )
  } finally {
    await stop(orchestratord)
    await stop(plain)
    await stop(effectFloor)
    await stop(engine)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return {
    title: "Relay: token streaming through orchestratord vs straight from the engine",
    columns: [
      "streams",
      "tokens",
      "direct tok/s",
      "plain tok/s",
      "effect tok/s",
      "/v1 tok/s",
      "/v2 tok/s",
      "ratio plain",
      "ratio effect",
      "ratio /v1",
      "direct TTFT p50 ms",
      "added p50 ms plain",
      "added p50 ms effect",
      "added p50 ms /v1",
      "added p50 ms /v2",
      "added p95 ms /v1",
      "CPU µs/token plain",
      "CPU µs/token effect",
      "CPU µs/token /v1",
      "CPU µs/token /v2"
    ],
    rows,
    notes
  }
}

if (isEntryPoint(import.meta.url)) {
  run().then((table) => process.stdout.write(`${renderTable(table)}\n`))
}
