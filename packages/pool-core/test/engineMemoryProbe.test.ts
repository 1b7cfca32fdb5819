import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { mockEngineCommand } from "@llama-orch/mock-engine"
import { Chunk, Effect, Either, Layer, Option, Stream } from "effect"
import * as NodeProcess from "node:process"
import {
  DeviceLedger,
  Devices,
  EngineMemoryProbe,
  EngineProfile,
  FootprintStore,
  PoolId,
  PoolManager,
  PoolSpec
} from "../src/index.js"
import { signalGroup } from "../src/internal/processControl.js"
import { httpText, withManager } from "./support/harness.js"
import { nvidiaSmiStub, prependPath } from "./support/nvidiaSmiStub.js"

const TestLayer = Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)

/** A shell that leads its own process group with one child in it: its pid and the child's. */
const processGroup = Effect.gen(function*() {
  const executor = yield* CommandExecutor.CommandExecutor
  const proc = yield* executor.start(Command.make("sh", "-c", "sleep 60 & echo $!; wait"))
  yield* Effect.addFinalizer(() => signalGroup(proc.pid, "SIGKILL"))
  const line = yield* proc.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.take(1), Stream.runCollect)
  return { leader: proc.pid, child: Number(Chunk.unsafeHead(line)) }
})

// No GPU here: nvidia-smi is a stub first on PATH, printing nvidia-smi's real CSV format.
describe("EngineMemoryProbe", () => {
  it.scoped("sums nvidia-smi's per-process memory over the engine's process group", () =>
    Effect.gen(function*() {
      const stub = yield* nvidiaSmiStub
      const group = yield* processGroup
      yield* stub.setApps(`${group.leader}, 100\n${group.child}, 200\n${NodeProcess.pid}, 5000\n77, [N/A]\n`)
      const probe = yield* EngineMemoryProbe.make
      expect(yield* probe.measure({ pid: group.leader })).toEqual(
        Option.some(new EngineMemoryProbe.EngineMemory({ mb: 300, source: "nvidia-smi" }))
      )
      // a process nvidia-smi does not list, and a failing nvidia-smi, measure nothing (and fail nothing)
      expect(yield* probe.measure({ pid: 999_999_999 })).toEqual(Option.none())
      yield* stub.setFailure("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n")
      expect(yield* probe.measure({ pid: group.leader })).toEqual(Option.none())
    }).pipe(Effect.provide(TestLayer)))

  it.live("learns the mock engine's footprint on the device the ledger placed it on, and keeps it", () =>
    withManager({ profiles: [gpuProfile] }, ({ stateDir }) =>
      Effect.gen(function*() {
        const pm = yield* PoolManager
        const poolId = PoolId.make("tiny")
        const ledger = DeviceLedger.make([
          new Devices.Device({ id: "0", memoryMb: 8000 }),
          new Devices.Device({ id: "1", memoryMb: 16000 })
        ])
        const reserved = DeviceLedger.reserve(ledger, { key: poolId, needMb: 4000 })
        if (Either.isLeft(reserved)) return yield* Effect.die(reserved.left)
        const [reservation, placed] = reserved.right
        const { deviceMask } = DeviceLedger.placement(reservation)
        yield* pm.register(new PoolSpec({ id: poolId, engine: "mock-gpu", model: "tiny", deviceMask, preload: false }))
        const handoff = yield* pm.preload(poolId)
        expect(handoff.deviceMask).toBe("1")
        // the {device} placeholder reached the engine's argv
        expect(JSON.parse(yield* httpText(`${handoff.url}/props`))).toMatchObject({ model_path: "tiny-on-1" })

        const fs = yield* FileSystem.FileSystem
        yield* prependPath(yield* fs.makeTempDirectoryScoped(), true) // no nvidia-smi: the engine's report counts
        const probe = yield* EngineMemoryProbe.make.pipe(Effect.provide(yield* Layer.build(TestLayer)))
        const measured = yield* probe.measure({ pid: handoff.pid, healthUrl: `${handoff.url}/health` })
        expect(measured).toEqual(Option.some(new EngineMemoryProbe.EngineMemory({ mb: 1536, source: "engine" })))
        if (Option.isNone(measured)) return
        const corrected = DeviceLedger.adjust(placed, poolId, measured.value.mb)
        expect(DeviceLedger.usage(corrected).map((u) => u.freeMb)).toEqual([8000, 16000 - 1536])

        const key = FootprintStore.footprintKey({ engine: "mock-gpu", model: "tiny", ctxMax: 4096, slots: 1 })
        yield* (yield* FootprintStore.make(stateDir)).learn(key, measured.value.mb, measured.value.source)
        const afterRestart = yield* FootprintStore.make(stateDir)
        expect(Option.map(yield* afterRestart.get(key), (entry) => entry.footprintMb)).toEqual(Option.some(1536))
      })))
})

const mock = mockEngineCommand()
const gpuProfile = new EngineProfile({
  name: "mock-gpu",
  protocol: "llamacpp",
  command: mock.command,
  args: [
    ...mock.args,
    "--host",
    "{host}",
    "--port",
    "{port}",
    "--model",
    "{model}-on-{device}",
    "--footprint-mb",
    "1536"
  ]
})
