import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import { PoolState } from "../src/index.js"
import { drainPlan, isLive, leaseVerdict, LifecycleEvent, preloadPlan, transition } from "../src/internal/lifecycle.js"

const states = PoolState.literals

const table = (event: LifecycleEvent) =>
  Object.fromEntries(states.map((state) => [state, Option.getOrUndefined(transition(state, event))]))

describe("pool state machine", () => {
  it("starts from Registered, Stopped, Failed and Backoff only", () => {
    expect(table(LifecycleEvent.Start())).toEqual({
      Registered: "Starting",
      Starting: undefined,
      Ready: undefined,
      Draining: undefined,
      Backoff: "Starting",
      Failed: "Starting",
      Stopped: "Starting"
    })
  })

  it("becomes Ready from Starting (and stays Ready when a surge reload switches engines)", () => {
    expect(table(LifecycleEvent.Ready())).toMatchObject({ Starting: "Ready", Ready: "Ready", Stopped: undefined })
  })

  it("a failed start goes to Backoff when retried, Failed otherwise", () => {
    expect(transition("Starting", LifecycleEvent.StartFailed({ retry: true }))).toEqual(Option.some("Backoff"))
    expect(transition("Starting", LifecycleEvent.StartFailed({ retry: false }))).toEqual(Option.some("Failed"))
    expect(transition("Ready", LifecycleEvent.StartFailed({ retry: true }))).toEqual(Option.none())
  })

  it("a Ready engine that fails goes to Backoff or Failed", () => {
    expect(transition("Ready", LifecycleEvent.EngineFailed({ retry: true }))).toEqual(Option.some("Backoff"))
    expect(transition("Ready", LifecycleEvent.EngineFailed({ retry: false }))).toEqual(Option.some("Failed"))
    expect(transition("Stopped", LifecycleEvent.EngineFailed({ retry: true }))).toEqual(Option.none())
  })

  it("drains only a Ready pool, and stops anything but a Registered one", () => {
    expect(table(LifecycleEvent.Drain())).toMatchObject({ Ready: "Draining", Starting: undefined, Stopped: undefined })
    expect(table(LifecycleEvent.Stopped())).toEqual({
      Registered: undefined,
      Starting: "Stopped",
      Ready: "Stopped",
      Draining: "Stopped",
      Backoff: "Stopped",
      Failed: "Stopped",
      Stopped: "Stopped"
    })
  })

  it("plans preload and drain per state", () => {
    expect(states.map(preloadPlan)).toEqual([
      "start",
      "busy",
      "handoff",
      "busy",
      "start-now",
      "reset-and-start",
      "start"
    ])
    expect(states.map(drainPlan)).toEqual(["noop", "busy", "drain", "busy", "cancel", "cancel", "noop"])
    expect(states.filter(isLive)).toEqual(["Starting", "Ready", "Draining"])
  })

  it("grants a lease only when Ready, not draining, with a free slot", () => {
    const ready = { state: "Ready" as const, draining: false, activeLeases: 1, slotsTotal: 2 }
    expect(leaseVerdict(ready)).toBe("granted")
    expect(leaseVerdict({ ...ready, activeLeases: 2 })).toBe("exhausted")
    expect(leaseVerdict({ ...ready, draining: true })).toBe("draining")
    expect(leaseVerdict({ ...ready, state: "Draining" })).toBe("draining")
    for (const state of ["Registered", "Starting", "Backoff", "Failed", "Stopped"] as const) {
      expect(leaseVerdict({ ...ready, state })).toBe("unready")
    }
  })
})
