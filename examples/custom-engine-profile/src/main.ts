/**
 * Adds an engine profile for a new engine and uses it end to end: the pool manager spawns it with
 * the profile's argument template, probes its health path, and the orchestrator streams a chat
 * completion from it over the OpenAI protocol.
 *
 *     npx --yes pnpm@10.34.8 --filter @llama-orch/example-custom-engine-profile start
 */
import { NodeContext, NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { mockEngineCommand } from "@llama-orch/mock-engine"
import { ChatMessage, Orchestrator, TaskRequest } from "@llama-orch/orchestrator-core"
import { EmbeddedPoolManager, EngineProfile, PoolId, PoolManager, PoolSpec } from "@llama-orch/pool-core"
import { Console, Effect, Layer, Option, Stream } from "effect"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"

const tinyServe = fileURLToPath(new URL("../bin/tiny-serve.mjs", import.meta.url))

// The profile: the engine's own command line, with the manager's placeholders filled in per pool.
// `protocol: "openai"` makes the orchestrator talk /v1/completions and /v1/chat/completions;
// `healthPath` is where the manager probes it until it answers 200 (then the pool is Ready).
const tinyServeProfile = new EngineProfile({
  name: "tiny-serve",
  protocol: "openai",
  command: process.execPath,
  args: [
    tinyServe,
    "{model}",
    "--served-model-name",
    "{model}",
    "--host",
    "{host}",
    "--port",
    "{port}",
    "--max-num-seqs",
    "{slots}",
    "--max-model-len",
    "{ctx}"
  ],
  // environment for the engine process (here: what tiny-serve runs underneath)
  env: { TINY_SERVE_BACKEND: JSON.stringify(mockEngineCommand()) },
  healthPath: "/health",
  versionArgs: [tinyServe, "--version"]
})

const poolId = PoolId.make("tiny-0")

const program = Effect.gen(function*() {
  const pools = yield* PoolManager
  const handoff = yield* pools.preload(poolId)
  yield* Console.log(`${handoff.engine} ${handoff.engineVersion} serves ${handoff.model} at ${handoff.url}`)

  const orchestrator = yield* Orchestrator
  const admission = yield* orchestrator.submit(
    new TaskRequest({
      modelRef: "tiny-chat",
      messages: [new ChatMessage({ role: "user", content: "Say something nice" })],
      maxTokens: 12,
      priority: "interactive"
    })
  )
  const text = yield* orchestrator.events(admission.taskId).pipe(
    Stream.filterMap((e) => (e.event._tag === "token" ? Option.some(e.event.t) : Option.none())),
    Stream.runFold("", (acc, t) => acc + t)
  )
  yield* Console.log(`chat: ${text.trim()}`)
})

const Pools = EmbeddedPoolManager.layer({
  profiles: [tinyServeProfile],
  stateDir: NodePath.join(NodeOs.tmpdir(), "llama-orch-example-custom-engine-profile"),
  stopGraceMs: 5_000,
  pools: [
    new PoolSpec({ id: poolId, engine: "tiny-serve", model: "tiny-chat", slots: 2, ctxMax: 2048, preload: false })
  ]
})

program.pipe(
  Effect.provide(Orchestrator.layer({}).pipe(Layer.provideMerge(Pools))),
  Effect.provide(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)),
  NodeRuntime.runMain
)
