import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { Devices } from "../src/index.js"
import { driverFailure, nvidiaSmiStub, prependPath } from "./support/nvidiaSmiStub.js"

// No GPU here: discovery runs against a stub `nvidia-smi` first on PATH, printing real nvidia-smi output.
describe("Devices", () => {
  it.scoped("discovers every GPU with its total memory from nvidia-smi", () =>
    Effect.gen(function*() {
      const stub = yield* nvidiaSmiStub
      yield* stub.setGpus("0, 24564\n1, 8188\n")
      const devices = yield* Devices.discover()
      expect(devices).toEqual([
        new Devices.Device({ id: "0", memoryMb: 24564 }),
        new Devices.Device({ id: "1", memoryMb: 8188 })
      ])
      // configured devices win, and discovery is not consulted
      const configured = [new Devices.Device({ id: "3", memoryMb: 1000 })]
      expect(yield* Devices.resolve(configured)).toEqual(configured)
      expect(yield* Devices.resolve([])).toEqual([])
      expect(yield* Devices.resolve(undefined)).toEqual(devices)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("finds no devices when nvidia-smi is not on PATH", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      yield* prependPath(yield* fs.makeTempDirectoryScoped(), true)
      expect(yield* Devices.discover()).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("reports a failing nvidia-smi with its exit code and message", () =>
    Effect.gen(function*() {
      const stub = yield* nvidiaSmiStub
      yield* stub.setFailure(`${driverFailure}\n`)
      const error = yield* Effect.flip(Devices.discover())
      expect(error._tag).toBe("NvidiaSmiFailed")
      expect(error.exitCode).toBe(9)
      expect(error.message).toContain("couldn't communicate with the NVIDIA driver")
      expect(error.message).toContain("--query-gpu=index,memory.total")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("refuses output that is not index, memory rows", () =>
    Effect.gen(function*() {
      const stub = yield* nvidiaSmiStub
      yield* stub.setGpus("0, [N/A]\n")
      const error = yield* Effect.flip(Devices.discover())
      expect(error.message).toContain(`got "0, [N/A]"`)
    }).pipe(Effect.provide(NodeContext.layer)))

  it("validates configured device lists", () => {
    const decode = Schema.decodeUnknownEither(Devices.DeviceList)
    expect(Either.isRight(decode([{ id: "0", memoryMb: 8000 }, { id: "1", memoryMb: 8000 }]))).toBe(true)
    const duplicate = decode([{ id: "0", memoryMb: 8000 }, { id: "0", memoryMb: 4000 }])
    expect(Either.isLeft(duplicate) && duplicate.left.message).toContain("device 0 is listed twice")
    const badId = decode([{ id: "GPU-1", memoryMb: 8000 }])
    expect(Either.isLeft(badId) && badId.left.message).toContain("a device id is a device index")
    expect(Either.isLeft(decode([{ id: "0", memoryMb: 0 }]))).toBe(true)
  })
})
