#!/usr/bin/env node
// A stand-in for a "new" OpenAI-compatible engine with its own command line, in the style of
// vLLM: `tiny-serve <model> --served-model-name NAME --host H --port N --max-num-seqs N
// --max-model-len N`. It translates those flags and runs the mock engine, which speaks
// /v1/completions and /v1/chat/completions. TINY_SERVE_BACKEND is the mock engine's command line
// as JSON ({ command, args }), given by the engine profile's env.
import { spawn } from "node:child_process"

const argv = process.argv.slice(2)
if (argv.includes("--version")) {
  process.stdout.write("tiny-serve 1.2.3\n")
  process.exit(0)
}
const flag = (name, fallback) => {
  const i = argv.indexOf(name)
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback
}
const engine = JSON.parse(process.env.TINY_SERVE_BACKEND ?? "null")
if (engine === null) {
  process.stderr.write("tiny-serve: TINY_SERVE_BACKEND is not set\n")
  process.exit(2)
}
const child = spawn(engine.command, [
  ...engine.args,
  "--model",
  flag("--served-model-name", argv[0] ?? "model"),
  "--host",
  flag("--host", "127.0.0.1"),
  "--port",
  flag("--port", "8000"),
  "--slots",
  flag("--max-num-seqs", "1"),
  "--ctx",
  flag("--max-model-len", "4096"),
  "--tps",
  "200"
], { stdio: "inherit" })
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => child.kill(signal))
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
