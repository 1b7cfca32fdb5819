/**
 * The command line as a person runs it: orchestratord as a real process on mock engines (the
 * app's own fixtures), `llama-orch` run as a process (its sources bundled once and cached: one
 * file starts ten times faster than the sources through a TypeScript loader), and a terminal under
 * tmux.
 */
import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import { SourceBundle, SpawnDaemon } from "@llama-orch/daemon-kit"
import { Context, Effect, Layer, Option, Schedule } from "effect"
import type * as Scope from "effect/Scope"
import { fileURLToPath } from "node:url"
import { spawnWithConfig } from "../../../apps/orchestratord/test/fixtures/daemon.js"
import { waitOk } from "../../../apps/orchestratord/test/fixtures/processes.js"

/** The repository root. */
export const root = fileURLToPath(new URL("../../..", import.meta.url))

/** The CLI's entry point (source). */
export const cliEntry = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

/** The CLI as one JavaScript file, run with plain Node. */
export class CliBin extends Context.Tag("test/CliBin")<CliBin, string>() {}

/** The CLI's sources (and the workspace's) bundled once, cached while they are unchanged (`SourceBundle`). */
export const CliBinLive = Layer.effect(
  CliBin,
  Effect.flatMap(
    SourceBundle.bundledEntry(cliEntry),
    Option.match({
      onNone: () => Effect.dieMessage(`esbuild could not bundle ${cliEntry}`),
      onSome: Effect.succeed
    })
  )
)

/** The token the test orchestratord wants. */
export const token = "cli-test-token"

/** A running orchestratord. */
export class Orchestratord extends Context.Tag("test/Orchestratord")<Orchestratord, SpawnDaemon.RunningDaemon>() {}

/**
 * orchestratord with a token and the embedded pools of `pools` (YAML lines under `pools:`) on two
 * mock engines: `mock` (fast), `slow` (5 tokens per second) and `crashy` (exits after its second token); ready once every pool is.
 */
export const orchestratord = (pools: ReadonlyArray<string>) =>
  Layer.scoped(
    Orchestratord,
    Effect.gen(function*() {
      const daemon = yield* spawnWithConfig([
        `token: ${token}`,
        "shutdown_deadline_ms: 2000",
        "stop_grace_ms: 2000",
        "engines:",
        "  - { name: mock, mock: true }",
        "  - { name: slow, mock: true, args: [\"--tps\", \"5\"] }",
        "  - { name: crashy, mock: true, args: [\"--crash-after-tokens\", \"2\"] }",
        "pools:",
        ...pools
      ])
      yield* waitOk(`${daemon.url}/ready`)
      return daemon
    })
  )

/** What a run of the CLI ended with. */
export interface CliRun {
  readonly code: number | string
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `llama-orch ARGS` to its end (stdin and stdout are pipes, not a terminal). Without the
 * `NODE_PATH` a package manager's scripts set, which would let the CLI find the workspace's daemon
 * packages as if installed next to it.
 */
export const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.flatMap(
    CliBin,
    (entry) => SpawnDaemon.runToExit({ entry, args, env: { NO_COLOR: "1", NODE_PATH: "", ...env }, cwd: root })
  ).pipe(
    Effect.map(({ exit, stderr, stdout }): CliRun => ({
      code: exit._tag === "Exited" ? exit.code : exit.reason,
      stdout,
      stderr
    }))
  )

/** A JSON request to orchestratord with the token. */
export const api = (url: string, method: "GET" | "POST", body?: unknown) =>
  Effect.promise(async (): Promise<{ readonly status: number; readonly body: unknown }> => {
    const response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await response.text()
    return { status: response.status, body: text === "" ? undefined : JSON.parse(text) }
  })

/** A terminal: one tmux server of its own running a shell, killed with the scope. */
export interface Terminal {
  /** Types `text` and presses Enter. */
  readonly run: (text: string) => Effect.Effect<void>
  /** Presses keys (tmux key names: `q`, `C-c`). */
  readonly keys: (...keys: ReadonlyArray<string>) => Effect.Effect<void>
  /** The screen's text now. */
  readonly screen: Effect.Effect<string>
  /** Waits until the screen matches `pattern` (fails with the last screen after `timeoutMs`). */
  readonly waitFor: (pattern: RegExp, timeoutMs?: number) => Effect.Effect<string>
  /** Waits until the program in the foreground has ended (the shell is back), then asks its exit code. */
  readonly exitCode: Effect.Effect<number>
}

/** A tmux terminal 160x48 running `sh` in the repository root with `env` set. */
export const terminal = (
  env: Record<string, string>
): Effect.Effect<Terminal, never, Scope.Scope | CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    const socket = `llama-orch-cli-${process.pid}-${Math.random().toString(36).slice(2)}`
    const executor = yield* CommandExecutor.CommandExecutor
    const tmux = (...args: ReadonlyArray<string>) =>
      Command.string(Command.make("tmux", "-L", socket, ...args)).pipe(
        Effect.provideService(CommandExecutor.CommandExecutor, executor),
        Effect.orDie
      )
    const exports = Object.entries({ ...env, PS1: "$ " }).map(([k, v]) => `-e${k}=${v}`)
    yield* Effect.acquireRelease(
      tmux("new-session", "-d", "-x", "160", "-y", "48", "-c", root, ...exports, "sh"),
      () => Effect.ignore(tmux("kill-server"))
    )
    const screen = tmux("capture-pane", "-p", "-J")
    const until = <A>(what: string, check: Effect.Effect<A, string>, timeoutMs = 60_000) =>
      check.pipe(
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo(`${timeoutMs} millis`))),
        Effect.orDieWith((last) => new Error(`${what}:\n${last}`))
      )
    const waitFor = (pattern: RegExp, timeoutMs?: number) =>
      until(
        `screen never matched ${pattern}`,
        Effect.filterOrFail(screen, (text) => pattern.test(text), (text) => text),
        timeoutMs
      )
    const run = (text: string) =>
      Effect.asVoid(tmux("send-keys", "-l", text).pipe(Effect.zipRight(tmux("send-keys", "Enter"))))
    const foreground = Effect.map(tmux("display-message", "-p", "#{pane_current_command}"), (c) => c.trim())
    return {
      run,
      keys: (...keys) => Effect.asVoid(tmux("send-keys", ...keys)),
      screen,
      waitFor,
      exitCode: Effect.gen(function*() {
        yield* until("the program did not end", Effect.filterOrFail(foreground, (c) => c === "sh", (c) => c))
        yield* run("echo EXIT=$?")
        const text = yield* waitFor(/EXIT=\d+/)
        return Number(/EXIT=(\d+)/.exec(text)?.[1])
      })
    }
  })

/** The command line that runs `llama-orch` in a shell. */
export const shellCommand = (args: ReadonlyArray<string>) =>
  Effect.map(CliBin, (bin) => [process.execPath, bin, ...args].map((a) => `'${a}'`).join(" "))
