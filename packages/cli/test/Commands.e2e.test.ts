/**
 * `llama-orch` as a process against a real orchestratord on mock engines: the listings as tables and
 * as JSON, the token from the environment or a file, a task streamed, inspected and cancelled, the
 * pool operations, `config check` through the daemons' own validation, and the exit codes.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, expect, layer } from "@effect/vitest"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { Effect, Layer } from "effect"
import { fileURLToPath } from "node:url"
import { api, cli, CliBinLive, Orchestratord, orchestratord, token } from "./fixtures.js"

const Live = orchestratord([
  "  - { id: pool-a, engine: mock, model: mock-model, slots: 2 }",
  "  - { id: pool-b, engine: mock, model: other-model, slots: 1 }",
  "  - { id: pool-c, engine: crashy, model: crashy-model, slots: 1 }",
  // a catalogued model: loaded on demand
  "models:",
  "  - { id: cat-model, aliases: [cat], engine: mock, model: cat.gguf }"
]).pipe(Layer.merge(CliBinLive), Layer.provideMerge(NodeContext.layer))

const withToken = { LLAMA_ORCH_TOKEN: token }

// each run of the CLI starts a Node process from TypeScript sources: seconds on a busy machine
const timeout = 120_000

/** The JSON lines of an output. */
const jsonLines = (text: string): ReadonlyArray<{ readonly event: string; readonly data: Record<string, unknown> }> =>
  text.trim().split("\n").map((line) => JSON.parse(line))

layer(Live, { excludeTestServices: true, timeout: 180_000 })("llama-orch against orchestratord", (it) => {
  it.effect(
    "lists pools and models as tables and as the API's JSON; the token comes from the environment or a file",
    () =>
      Effect.gen(function*() {
        const { url } = yield* Orchestratord
        const fs = yield* FileSystem.FileSystem
        const tokenFile = yield* fs.makeTempFileScoped({ prefix: "llama-orch-token-" })
        yield* fs.writeFileString(tokenFile, `${token}\n`)
        const [table, json, models, modelsJson, refused] = yield* Effect.all([
          cli(["pools", "list", "--url", url], withToken),
          cli(["pools", "list", "--url", url, "--json", "--token-file", tokenFile]),
          cli(["models", "list", "--url", url], withToken),
          cli(["models", "list", "--json"], { ...withToken, LLAMA_ORCH_URL: url }),
          cli(["pools", "list", "--url", url])
        ], { concurrency: "unbounded" })
        expect(table.code).toBe(0)
        const lines = table.stdout.trimEnd().split("\n")
        expect(lines[0]).toMatch(
          /^POOL\s+NODE\s+STATE\s+MODEL\s+GEN\s+SLOTS USED\/TOTAL\s+QUEUE\s+RESTARTS\s+LAST ERROR$/
        )
        expect(lines.slice(1)).toEqual([
          expect.stringMatching(/^pool-a\s+-\s+Ready\s+mock-model\s+1\s+0\/2\s+0\s+0$/),
          expect.stringMatching(/^pool-b\s+-\s+Ready\s+other-model\s+1\s+0\/1\s+0\s+0$/),
          expect.stringMatching(/^pool-c\s+-\s+Ready\s+crashy-model\s/)
        ])
        expect(json.code).toBe(0)
        expect(JSON.parse(json.stdout)).toEqual((yield* api(`${url}/v2/pools`, "GET")).body)
        expect(models.stdout).toMatch(/^MODEL\s+POOLS READY\/TOTAL\s+SLOTS USED\/TOTAL\s+QUEUED\s+STATE\s+FOOTPRINT\n/)
        expect(models.stdout).toMatch(/\nmock-model\s+1\/1\s+0\/2\s+0\s+loaded\s+-\n/)
        const listed: { readonly data: ReadonlyArray<{ readonly id: string }> } = JSON.parse(modelsJson.stdout)
        expect(listed.data.map((m) => m.id).sort()).toEqual(["cat-model", "crashy-model", "mock-model", "other-model"])
        expect(refused).toEqual({
          code: 1,
          stdout: "",
          stderr: expect.stringMatching(/^llama-orch: GET \/v2\/pools: 401 UNAUTHORIZED: .+\n$/)
        })
      }).pipe(Effect.scoped),
    timeout
  )

  it.effect(
    "models load starts a catalogued model (by alias) and unload stops it; an unknown model fails with exit 1",
    () =>
      Effect.gen(function*() {
        const { url } = yield* Orchestratord
        const row = (text: string) => text.split("\n").find((line) => line.startsWith("cat-model"))
        expect(row((yield* cli(["models", "list", "--url", url], withToken)).stdout)).toMatch(/\sunloaded\s+-$/)
        const loaded = yield* cli(["models", "load", "--url", url, "cat"], withToken)
        expect(loaded).toMatchObject({ code: 0, stdout: expect.stringMatching(/^cat-model is loaded on pool \S+\n$/) })
        expect(row((yield* cli(["models", "list", "--url", url], withToken)).stdout)).toMatch(
          /^cat-model\s+1\/1\s+0\/1\s+0\s+loaded\s/
        )
        const unloaded = yield* cli(["models", "unload", "--url", url, "--json", "cat-model"], withToken)
        expect(unloaded.code).toBe(0)
        expect(JSON.parse(unloaded.stdout)).toMatchObject({ id: "cat-model", state: "unloaded" })
        const unknown = yield* cli(["models", "load", "--url", url, "nope"], withToken)
        expect(unknown).toMatchObject({
          code: 1,
          stderr: expect.stringMatching(/^llama-orch: POST \/v2\/models\/nope\/load: 404 MODEL_NOT_FOUND/)
        })
      }),
    timeout
  )

  it.effect(
    "tasks submit streams the answer to stdout; tasks get, events and cancel show and end a task",
    () =>
      Effect.gen(function*() {
        const { url } = yield* Orchestratord
        const args = ["--url", url, "--model", "mock-model", "--max-tokens", "5", "hello there"]
        const [plain, json, crashed] = yield* Effect.all([
          cli(["tasks", "submit", ...args], withToken),
          cli(["tasks", "submit", "--json", ...args], withToken),
          cli(["tasks", "submit", "--url", url, "--model", "crashy-model", "--max-tokens", "20", "hi"], withToken)
        ], { concurrency: "unbounded" })
        expect(plain.code).toBe(0)
        expect(plain.stdout).toMatch(/^(\s*\S+){5}\n$/)
        // the engine died after its second token: what came is printed, the failure is exit code 1
        expect(crashed).toEqual({
          code: 1,
          stdout: expect.stringMatching(/^(\s*\S+){1,2}\s*$/),
          stderr: expect.stringMatching(/^llama-orch: task \S+ failed: [A-Z_]+: .+\n$/)
        })
        const events = jsonLines(json.stdout)
        expect(events.map((e) => e.event)).toEqual(
          expect.arrayContaining(["accepted", "started", "token", "end"])
        )
        const taskId = String(events[0]?.data["task_id"])
        const [get, getJson, replay, cancel] = yield* Effect.all([
          cli(["tasks", "get", "--url", url, taskId], withToken),
          cli(["tasks", "get", "--url", url, "--json", taskId], withToken),
          cli(["tasks", "events", "--url", url, "--json", taskId], withToken),
          cli(["tasks", "cancel", "--url", url, "no-such-task"], withToken)
        ], { concurrency: "unbounded" })
        expect(get.stdout).toMatch(new RegExp(`\\n${taskId}\\s+completed\\s+mock-model\\s+pool-a\\s+-\\s+\\d+/5\\s`))
        expect(JSON.parse(getJson.stdout)).toEqual((yield* api(`${url}/v2/tasks/${taskId}`, "GET")).body)
        // the events replayed are the ones streamed at submission
        expect(jsonLines(replay.stdout).map((e) => e.data)).toEqual(events.slice(1).map((e) => e.data))
        expect(cancel).toEqual({
          code: 1,
          stdout: "",
          stderr: expect.stringMatching(/^llama-orch: POST \/v2\/tasks\/no-such-task\/cancel: 404 NOT_FOUND: /)
        })
      }),
    timeout
  )

  it.effect(
    "pools drain waits until the engine stopped, preload brings it back, reload switches the model",
    () =>
      Effect.gen(function*() {
        const { url } = yield* Orchestratord
        const [drain, missing] = yield* Effect.all([
          cli(["pools", "drain", "--url", url, "--deadline-ms", "1000", "pool-b"], withToken),
          cli(["pools", "drain", "--url", url, "no-such-pool"], withToken)
        ], { concurrency: "unbounded" })
        // off a terminal there is no progress line
        expect(drain).toEqual({
          code: 0,
          stdout: expect.stringMatching(/^pool-b drained: Stopped after \S+\n$/),
          stderr: ""
        })
        expect((yield* api(`${url}/v2/pools/pool-b/health`, "GET")).body).toMatchObject({ state: "Stopped" })
        const preload = yield* cli(["pools", "preload", "--url", url, "pool-b"], withToken)
        expect(preload).toEqual({
          code: 0,
          stdout: expect.stringMatching(/^pool-b is Ready: other-model, generation 2 at http:\/\/127\.0\.0\.1:\d+\n$/),
          stderr: ""
        })
        const reload = yield* cli(
          ["pools", "reload", "--url", url, "--json", "--model", "renamed-model", "pool-b"],
          withToken
        )
        expect(reload.code).toBe(0)
        expect(JSON.parse(reload.stdout)).toMatchObject({
          pool_id: "pool-b",
          from_model: "other-model",
          to_model: "renamed-model"
        })
        const pools = yield* api(`${url}/v2/pools`, "GET")
        assert(typeof pools.body === "object" && pools.body !== null && "pools" in pools.body)
        expect(pools.body.pools).toContainEqual(expect.objectContaining({ pool_id: "pool-b", model: "renamed-model" }))
        expect(missing.code).toBe(1)
        expect(missing.stderr).toMatch(/^llama-orch: POST \/v2\/pools\/no-such-pool\/drain: 404 NOT_FOUND: /)
      }),
    timeout
  )

  it.effect(
    "a bad command line is exit code 2; an orchestratord that does not answer is 1",
    () =>
      Effect.gen(function*() {
        const { url } = yield* Orchestratord
        const runs = yield* Effect.all([
          cli(["pools", "lst", "--url", url]),
          cli(["pools", "drain", "--url", url, "--deadline-ms", "-5", "pool-a"]),
          cli(["pools", "list", "--url", "ftp://example.org"]),
          cli(["pools", "list", "--url", url, "--token-file", "/no/such/token"]),
          cli(["pools", "list", "--url", "http://127.0.0.1:1"])
        ], { concurrency: "unbounded" })
        expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2, 1])
        expect(runs[1]?.stderr).toBe("llama-orch: --deadline-ms must be an integer from 0 to 3600000, not '-5'\n")
        expect(runs[2]?.stderr).toBe("llama-orch: --url must be an http(s) URL, not 'ftp://example.org'\n")
        expect(runs[3]?.stderr).toMatch(/^llama-orch: --token-file cannot read '\/no\/such\/token': /)
        expect(runs[4]?.stderr).toMatch(/^llama-orch: cannot reach orchestratord at http:\/\/127\.0\.0\.1:1: /)
      }),
    timeout
  )
})

const daemonEntry = (app: string) => fileURLToPath(new URL(`../../../apps/${app}/src/bin.ts`, import.meta.url))

layer(CliBinLive.pipe(Layer.provideMerge(NodeContext.layer)), { timeout: 120_000 })("llama-orch config check", (it) => {
  it.scoped(
    "validates with the daemon's own messages, found on PATH, without starting it",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "llama-orch-config-" })
        // the daemons as installed executables on PATH
        yield* fs.makeDirectory(`${dir}/bin`)
        for (const app of ["orchestratord", "pool-managerd"]) {
          const args = (yield* SpawnDaemon.nodeCommand({ entry: daemonEntry(app) })).map((a) => `'${a}'`)
          yield* fs.writeFileString(`${dir}/bin/${app}`, `#!/bin/sh\nexec ${args.join(" ")} "$@"\n`, { mode: 0o755 })
        }
        yield* fs.writeFileString(`${dir}/good.yaml`, "port: 9300\n")
        yield* fs.writeFileString(`${dir}/bad.yaml`, "port: 70000\nhost: 0\n")
        const env = { PATH: `${dir}/bin:${process.env["PATH"] ?? ""}` }
        const [good, bad, badPm, direct, absent] = yield* Effect.all([
          cli(["config", "check", `${dir}/good.yaml`], env),
          cli(["config", "check", `${dir}/bad.yaml`], env),
          cli(["config", "check", "--daemon", "pool-managerd", `${dir}/bad.yaml`], env),
          SpawnDaemon.runToExit({ entry: daemonEntry("orchestratord"), args: ["--config", `${dir}/bad.yaml`] }),
          cli(["config", "check", `${dir}/good.yaml`], { PATH: "/usr/bin:/bin" })
        ], { concurrency: "unbounded" })
        expect(good).toEqual({ code: 0, stdout: `${dir}/good.yaml: valid configuration\n`, stderr: "" })
        // the daemon's own refusal, word for word
        expect(direct.stderr).toMatch(/^orchestratord: invalid configuration in .*bad\.yaml: .*port: .*70000/)
        expect(bad).toEqual({ code: 1, stdout: "", stderr: `llama-orch: ${direct.stderr}` })
        expect(badPm.code).toBe(1)
        expect(badPm.stderr).toMatch(/^llama-orch: pool-managerd: invalid configuration in .*bad\.yaml: .*70000/)
        expect(absent.code).toBe(1)
        expect(absent.stderr).toMatch(/^llama-orch: orchestratord is not installed: install @llama-orch\/orchestratord/)
      }),
    timeout
  )
})
