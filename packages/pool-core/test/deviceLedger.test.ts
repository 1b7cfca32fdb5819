import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { DeviceLedger, Devices } from "../src/index.js"

const twoGpus = DeviceLedger.make([
  new Devices.Device({ id: "0", memoryMb: 8000 }),
  new Devices.Device({ id: "1", memoryMb: 12000 })
])

const granted = (result: ReturnType<typeof DeviceLedger.reserve>) => {
  if (Either.isLeft(result)) throw new Error(`expected a reservation, got ${result.left.message}`)
  return result.right
}

const refused = (result: ReturnType<typeof DeviceLedger.reserve>) => {
  if (Either.isRight(result)) throw new Error("expected a refusal")
  return result.left
}

const freeOf = (ledger: DeviceLedger.DeviceLedger) => DeviceLedger.usage(ledger).map((u) => [u.deviceId, u.freeMb])

describe("DeviceLedger", () => {
  it("places each model on the device with the most free memory that fits", () => {
    const [a, afterA] = granted(DeviceLedger.reserve(twoGpus, { key: "a", needMb: 7000 }))
    expect(a.deviceId).toBe("1")
    const [b, afterB] = granted(DeviceLedger.reserve(afterA, { key: "b", needMb: 4000 }))
    expect(b.deviceId).toBe("0")
    expect(freeOf(afterB)).toEqual([["0", 4000], ["1", 5000]])
    // 4500 fits only on device 1 now
    const [c, afterC] = granted(DeviceLedger.reserve(afterB, { key: "c", needMb: 4500 }))
    expect(c.deviceId).toBe("1")
    expect(freeOf(afterC)).toEqual([["0", 4000], ["1", 500]])
    // the ledger is a value: the earlier ones are untouched
    expect(freeOf(twoGpus)).toEqual([["0", 8000], ["1", 12000]])
  })

  it("reports the free memory of every device when nothing fits, and fits once a reservation is released", () => {
    const [, full] = granted(DeviceLedger.reserve(twoGpus, { key: "a", needMb: 7000 }))
    const [, fuller] = granted(DeviceLedger.reserve(full, { key: "b", needMb: 6000 }))
    const shortage = refused(DeviceLedger.reserve(fuller, { key: "c", needMb: 6000 }))
    expect(shortage._tag).toBe("DeviceShortage")
    if (shortage._tag !== "DeviceShortage") return
    expect(shortage.devices.map((d) => [d.deviceId, d.freeMb, d.reservedMb])).toEqual([["0", 2000, 6000], [
      "1",
      5000,
      7000
    ]])
    expect(shortage.freeMb).toBe(5000)
    expect(shortage.message).toBe(
      "c needs 6000 MiB, not free on any device (device 0: 2000 of 8000 MiB free; device 1: 5000 of 12000 MiB free)"
    )
    const released = DeviceLedger.release(fuller, "a")
    expect(DeviceLedger.find(released, "a")).toBeUndefined()
    const [c] = granted(DeviceLedger.reserve(released, { key: "c", needMb: 6000 }))
    expect(c.deviceId).toBe("1")
  })

  it("keeps a pinned model on its device, with the shortage of that device alone", () => {
    const [a, ledger] = granted(DeviceLedger.reserve(twoGpus, { key: "a", needMb: 5000, device: "0" }))
    expect(a.deviceId).toBe("0")
    const shortage = refused(DeviceLedger.reserve(ledger, { key: "b", needMb: 5000, device: "0" }))
    expect(shortage._tag === "DeviceShortage" && shortage.devices.map((d) => d.deviceId)).toEqual(["0"])
    expect(shortage.message).toContain("on device 0 (pinned)")
    const unknown = refused(DeviceLedger.reserve(ledger, { key: "b", needMb: 1, device: "7" }))
    expect(unknown._tag).toBe("UnknownDevice")
    expect(unknown.message).toBe("b is pinned to device 7, which is not configured (devices: 0, 1)")
  })

  it("replaces a key's reservation on reserve and corrects it to what the engine used", () => {
    const [, ledger] = granted(DeviceLedger.reserve(twoGpus, { key: "a", needMb: 3000 }))
    const [, again] = granted(DeviceLedger.reserve(ledger, { key: "a", needMb: 11000 }))
    expect(again.reservations).toHaveLength(1)
    expect(freeOf(again)).toEqual([["0", 8000], ["1", 1000]])
    // learned: the engine really uses 12500 MiB; reality wins, free never goes below 0
    const adjusted = DeviceLedger.adjust(again, "a", 12500.2)
    expect(DeviceLedger.find(adjusted, "a")?.mb).toBe(12501)
    expect(DeviceLedger.usage(adjusted)[1]).toMatchObject({ reservedMb: 12501, freeMb: 0 })
    expect(DeviceLedger.adjust(again, "missing", 5)).toEqual(again)
  })

  it("accounts nothing without devices: everything fits, a pin is still honoured", () => {
    const none = DeviceLedger.make([])
    expect(DeviceLedger.accounts(none)).toBe(false)
    const [huge] = granted(DeviceLedger.reserve(none, { key: "huge", needMb: 1e9 }))
    expect(huge.deviceId).toBeUndefined()
    expect(DeviceLedger.placement(huge)).toEqual({ deviceMask: undefined, env: {}, vars: {} })
    const [pinned] = granted(DeviceLedger.reserve(none, { key: "p", needMb: 1, device: "2" }))
    expect(DeviceLedger.placement(pinned)).toEqual({
      deviceMask: "2",
      env: { CUDA_VISIBLE_DEVICES: "2" },
      vars: { device: "2" }
    })
  })
})
