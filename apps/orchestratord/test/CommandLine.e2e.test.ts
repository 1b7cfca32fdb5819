/**
 * The command-line conventions of every llama-orch executable, checked on the real processes
 * (orchestratord, pool-managerd, mock-engine): a bad flag is one plain line and exit code 2,
 * `--wizard` is refused, `--version` is the package's, no colour off a terminal or under NO_COLOR,
 * and `--log-level` is honoured wherever it is and over the configuration file.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import * as Command from "@effect/platform/Command"
import { describe, expect, it } from "@effect/vitest"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { mockEngineCommand } from "@llama-orch/mock-engine"
import mockEnginePackage from "@llama-orch/mock-engine/package.json" with { type: "json" }
import { Effect } from "effect"
import { fileURLToPath } from "node:url"
import poolManagerdPackage from "../../pool-managerd/package.json" with { type: "json" }
import orchestratordPackage from "../package.json" with { type: "json" }
import { privateStateHome } from "./fixtures/processes.js"

interface Binary {
  readonly name: string
  readonly entry: string
  readonly nodeArgs?: ReadonlyArray<string>
  readonly version: string
}

const mockEngine = mockEngineCommand()

const binaries: ReadonlyArray<Binary> = [
  {
    name: "orchestratord",
    entry: fileURLToPath(new URL("../src/bin.ts", import.meta.url)),
    version: orchestratordPackage.version
  },
  {
    name: "pool-managerd",
    entry: fileURLToPath(new URL("../../pool-managerd/src/bin.ts", import.meta.url)),
    version: poolManagerdPackage.version
  },
  {
    name: "mock-engine",
    entry: mockEngine.args.at(-1) ?? "",
    nodeArgs: mockEngine.args.slice(0, -1),
    // llama-server's format, which engine version detection reads
    version: `version: ${mockEnginePackage.version} (mock-engine)`
  }
]

const run = (binary: Binary, args: ReadonlyArray<string>) =>
  SpawnDaemon.runToExit({
    entry: binary.entry,
    args,
    ...(binary.nodeArgs === undefined ? {} : { nodeArgs: binary.nodeArgs })
  })

/** Exit code 2 and exactly one plain line on stderr, matching `pattern`: no stack, no colour, no blank line. */
const expectRefused = (
  result: { readonly exit: SpawnDaemon.DaemonExit; readonly stdout: string; readonly stderr: string },
  pattern: RegExp,
  label: string
) => {
  expect(result.exit, label).toEqual({ _tag: "Exited", code: 2 })
  expect(result.stdout, label).toBe("")
  expect(result.stderr, label).not.toContain("    at ")
  expect(result.stderr, label).not.toContain("\u001b[")
  const lines = result.stderr.split("\n").filter((line) => line.trim() !== "")
  expect(lines, label).toHaveLength(1)
  expect(result.stderr, label).toBe(`${lines[0]}\n`)
  expect(lines[0], label).toMatch(pattern)
}

const badCommandLines: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
  [["--port", "70000"], /: --port must be a port number from 0 to 65535, not '70000'$/],
  [["--port", "abc"], /: --port must be a port number from 0 to 65535, not 'abc'$/],
  [["--port", "0", "--frobnicate"], /: .*'--frobnicate'/],
  [["--port", "0", "--wizard"], /: --wizard is not available/],
  [["--port", "0", "--log-level", "loud"], /: --log-level must be one of .*, not 'loud'$/]
]

describe("command-line conventions of every executable", () => {
  for (const binary of binaries) {
    it.live(
      `${binary.name}: a bad flag or value exits 2 with one plain line naming it; --wizard is refused`,
      () =>
        Effect.gen(function*() {
          const results = yield* Effect.forEach(badCommandLines, ([args]) => run(binary, args), { concurrency: 2 })
          results.forEach((result, i) => {
            const [args, pattern] = badCommandLines[i]!
            expectRefused(result, new RegExp(`^${binary.name}${pattern.source}`), `${binary.name} ${args.join(" ")}`)
          })
        }).pipe(Effect.provide(NodeContext.layer)),
      60_000
    )

    it.live(
      `${binary.name}: --version prints the package's version; --help has no colour in a pipe`,
      () =>
        Effect.gen(function*() {
          const [version, help] = yield* Effect.all([run(binary, ["--version"]), run(binary, ["--help"])], {
            concurrency: 2
          })
          expect(version).toEqual({ exit: { _tag: "Exited", code: 0 }, stdout: `${binary.version}\n`, stderr: "" })
          expect(help.exit).toEqual({ _tag: "Exited", code: 0 })
          expect(help.stdout).toContain("USAGE")
          expect(help.stdout).toContain("--log-level")
          expect(help.stdout).not.toContain("\u001b[")
        }).pipe(Effect.provide(NodeContext.layer)),
      60_000
    )
  }

  it.live(
    "on a terminal help is coloured, unless NO_COLOR is set (run under script(1) for a pty)",
    () =>
      Effect.gen(function*() {
        const [binary] = binaries
        const line = [...yield* SpawnDaemon.nodeCommand({ entry: binary!.entry }), "--help"]
          .map((arg) => `'${arg.replaceAll("'", "'\\''")}'`)
          .join(" ")
        const onPty = (noColor: string) =>
          Command.string(
            Command.make("script", "-qec", `env -u NO_COLOR ${noColor} ${line}`, "/dev/null").pipe(
              Command.stdin("pipe")
            )
          )
        const [coloured, plain] = yield* Effect.all([onPty(""), onPty("NO_COLOR=1")], { concurrency: 2 })
        expect(coloured).toContain("USAGE")
        expect(coloured).toContain("\u001b[")
        expect(plain).toContain("USAGE")
        expect(plain).not.toContain("\u001b[")
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )
})

describe("orchestratord --log-level", () => {
  const entry = binaries[0]!.entry

  it.scopedLive(
    "given after the other flags, wins over the file's log_level; without it the file's applies",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "orchestratord-cli-" })
        const file = `${dir}/orchestratord.yaml`
        yield* fs.writeFileString(file, "log_level: warning\n")
        // one state directory each: the two run at once, and a state directory takes one manager
        const stopped = (args: ReadonlyArray<string>) =>
          Effect.scoped(Effect.gen(function*() {
            const env = yield* privateStateHome
            const daemon = yield* SpawnDaemon.spawnDaemon({ entry, args, env })
            yield* daemon.signal("SIGTERM")
            expect(yield* daemon.exit).toEqual({ _tag: "Exited", code: 0 })
            return (yield* daemon.stderr).split("\n").filter((line) => line !== "").map((line): unknown =>
              JSON.parse(line)
            )
          }))
        const [flagged, fromFile] = yield* Effect.all([
          stopped(["--config", file, "--port", "0", "--log-level", "debug"]),
          stopped(["--config", file, "--port", "0"])
        ], { concurrency: 2 })
        expect(flagged).toContainEqual(
          expect.objectContaining({ level: "debug", message: "Log level debug, from the command line." })
        )
        expect(flagged).toContainEqual(expect.objectContaining({ level: "info" }))
        expect(fromFile).not.toContainEqual(expect.objectContaining({ level: "info" }))
        expect(fromFile).not.toContainEqual(expect.objectContaining({ level: "debug" }))
      }).pipe(Effect.provide(NodeContext.layer)),
    120_000
  )

  it.scopedLive(
    "a configuration error under --log-level debug is still one plain line, exit 2, no stack",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "orchestratord-cli-" })
        const file = `${dir}/orchestratord.yaml`
        yield* fs.writeFileString(file, "port: 70000\nhost: ''\n")
        const result = yield* SpawnDaemon.runToExit({ entry, args: ["--config", file, "--log-level", "debug"] })
        expectRefused(
          result,
          new RegExp(`^orchestratord: invalid configuration in ${file}: host: .*; port: .*70000$`),
          "orchestratord with a bad file"
        )
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )
})
