/**
 * The live views as a person uses them, in a terminal under tmux against a real orchestratord:
 * `top` and `pools watch` show a pool's state change as it happens and quit on `q`; a drain that
 * waits shows its progress line; Ctrl-C on `tasks submit` cancels the task on the server.
 */
import { NodeContext } from "@effect/platform-node"
import { assert, expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { api, CliBinLive, Orchestratord, orchestratord, shellCommand, terminal, token } from "./fixtures.js"

const Live = orchestratord([
  "  - { id: pool-w, engine: mock, model: mock-model, slots: 1 }",
  "  - { id: pool-s, engine: slow, model: slow-model, slots: 1 }"
]).pipe(Layer.merge(CliBinLive), Layer.provideMerge(NodeContext.layer))

const env = { LLAMA_ORCH_TOKEN: token, NODE_PATH: "" }

// each run of the CLI starts a Node process from TypeScript sources: seconds on a busy machine
const timeout = 120_000

/** Drains pool-w (it stops: nothing runs on it), then preloads it again. */
const drainAndPreload = (url: string) =>
  Effect.gen(function*() {
    expect((yield* api(`${url}/v2/pools/pool-w/drain`, "POST", { deadline_ms: 1000 })).status).toBe(202)
    return () => Effect.map(api(`${url}/v2/pools/pool-w/preload`, "POST", {}), (r) => expect(r.status).toBe(200))
  })

layer(Live, { excludeTestServices: true, timeout: 180_000 })("llama-orch in a terminal", (it) => {
  it.scoped(
    "top shows the pools, their changes and the recent tasks as they happen; q quits with exit code 0",
    () =>
      Effect.gen(function*() {
        const { url } = yield* Orchestratord
        const term = yield* terminal(env)
        yield* term.run(yield* shellCommand(["top", "--url", url]))
        yield* term.waitFor(/pool-w\s+-\s+Ready\s+mock-model\s+1\s+0\/1\s+0\s+0/)
        yield* term.waitFor(/mock-model\s+1\/1\s+0\/1\s+0/)
        const preload = yield* drainAndPreload(url)
        const drained = yield* term.waitFor(/pool-w\s+-\s+Stopped\s+mock-model/)
        expect(drained).toMatch(/RECENT POOL EVENTS\n(.*\n)*\d\d:\d\d:\d\d\s+pool-w\s+drained\s+-> Stopped/)
        yield* preload()
        yield* term.waitFor(/pool-w\s+-\s+Ready\s+mock-model\s+2\s/)
        // a task appears among the recent tasks, from the activity stream
        const accepted = yield* api(`${url}/v2/tasks`, "POST", { model_ref: "mock-model", prompt: "hi", max_tokens: 3 })
        assert(typeof accepted.body === "object" && accepted.body !== null && "task_id" in accepted.body)
        const taskId = String(accepted.body.task_id)
        yield* term.waitFor(
          new RegExp(
            String.raw`RECENT TASKS\n.*\n${taskId.slice(0, 8)}\s+completed\s+mock-model\s+pool-w\s+3\s+\S+\s+[\d.]+`
          )
        )
        yield* term.keys("q")
        expect(yield* term.exitCode).toBe(0)
        // the alternate screen is gone: the shell's screen is back
        expect(yield* term.screen).not.toMatch(/RECENT POOL EVENTS/)
      }),
    timeout
  )

  it.scoped(
    "pools watch prints each change of a pool as a line; q quits with exit code 0",
    () =>
      Effect.gen(function*() {
        const { url } = yield* Orchestratord
        const term = yield* terminal(env)
        yield* term.run(yield* shellCommand(["pools", "watch", "--url", url]))
        yield* term.waitFor(/^pool-s\s+-\s+Ready\s+slow-model/m)
        const preload = yield* drainAndPreload(url)
        yield* term.waitFor(/^\d\d:\d\d:\d\d\s+pool-w\s+Stopped\s+drained\s+slots 0\/1\s+queue 0$/m)
        yield* preload()
        yield* term.waitFor(/^\d\d:\d\d:\d\d\s+pool-w\s+Ready\s+ready\s+slots 0\/1\s+queue 0$/m)
        yield* term.keys("q")
        expect(yield* term.exitCode).toBe(0)
      }),
    timeout
  )

  it.scoped(
    "a drain that waits shows its progress; Ctrl-C on tasks submit cancels the task on the server",
    () =>
      Effect.gen(function*() {
        const { url } = yield* Orchestratord
        const submit = yield* terminal(env)
        yield* submit.run(
          yield* shellCommand([
            "tasks",
            "submit",
            "--url",
            url,
            "--json",
            "--model",
            "slow-model",
            "--max-tokens",
            "500",
            "go"
          ])
        )
        const streaming = yield* submit.waitFor(/"event":"token"/)
        const taskId = /"task_id":"([^"]+)"/.exec(streaming)?.[1]
        assert(taskId !== undefined, streaming)
        // the running task holds pool-s: the drain waits for it, showing its progress
        const drain = yield* terminal(env)
        yield* drain.run(yield* shellCommand(["pools", "drain", "--url", url, "--deadline-ms", "60000", "pool-s"]))
        yield* drain.waitFor(/drain pool-s: Draining · \S+ elapsed · deadline 1m00s/)
        yield* submit.keys("C-c")
        yield* submit.waitFor(new RegExp(`llama-orch: cancelled task ${taskId}`))
        expect(yield* submit.exitCode).toBe(130)
        expect((yield* api(`${url}/v2/tasks/${taskId}`, "GET")).body).toMatchObject({ state: "cancelled" })
        // the lease is gone, so the drain ends; its progress line is cleared
        const drained = yield* drain.waitFor(/pool-s drained: Stopped after \S+/)
        expect(drained).not.toMatch(/elapsed/)
      }),
    timeout
  )
})
