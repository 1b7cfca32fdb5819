import { describe, expect, it } from "@effect/vitest"
import { PoolId } from "@llama-orch/pool-core"
import { FastCheck, Schema } from "effect"
import { PlacementPolicy } from "../src/index.js"

const states = ["Registered", "Starting", "Ready", "Draining", "Backoff", "Failed", "Stopped"] as const

const poolArb = (index: number) =>
  FastCheck.record({
    state: FastCheck.constantFrom(...states),
    model: FastCheck.constantFrom("m1", "m2"),
    slotsFree: FastCheck.nat(3),
    activeLeases: FastCheck.nat(3),
    freeVramBytes: FastCheck.option(FastCheck.nat(4), { nil: undefined })
  }).map((p): PlacementPolicy.Candidate => ({ ...p, poolId: poolIdOf(`p${index}`) }))

const poolIdOf = Schema.decodeSync(PoolId)

const poolsArb = FastCheck.integer({ min: 0, max: 8 }).chain((n) =>
  FastCheck.tuple(...Array.from({ length: n }, (_, i) => poolArb(i)))
)

const shuffle = <A>(items: ReadonlyArray<A>, seed: number): Array<A> => {
  const out = [...items]
  let s = seed
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648
    const j = s % (i + 1)
    const tmp = out[i]
    out[i] = out[j]
    out[j] = tmp
  }
  return out
}

describe("Placement", () => {
  it.prop(
    "is deterministic: any order of the same pools gives the same choice",
    [poolsArb, FastCheck.nat(), FastCheck.option(FastCheck.nat(8), { nil: undefined })],
    ([pools, seed, last]) => {
      const request = { model: "m1", lastPoolId: last === undefined ? undefined : `p${last}` }
      expect(PlacementPolicy.place(shuffle(pools, seed), request)).toEqual(PlacementPolicy.place(pools, request))
    }
  )

  it.prop(
    "places only on a Ready pool serving the model with a free slot, and the best one by the sort key",
    [poolsArb],
    ([pools]) => {
      const decision = PlacementPolicy.place(pools, { model: "m1" })
      const eligible = pools.filter((p) => PlacementPolicy.eligible(p, "m1"))
      if (eligible.length === 0) {
        expect(decision._tag).toBe("Wait")
      } else {
        const best = [...eligible].sort(PlacementPolicy.compare)[0]
        expect(decision).toEqual({ _tag: "Placed", poolId: best.poolId, kvWarmth: false })
      }
    }
  )

  it.prop(
    "a pin never lands on another pool",
    [poolsArb, FastCheck.nat(9)],
    ([pools, pinIndex]) => {
      const pin = poolIdOf(`p${pinIndex}`)
      const decision = PlacementPolicy.place(pools, { model: "m1", pinPoolId: pin })
      const pinned = pools.find((p) => p.poolId === pin)
      if (decision._tag === "Placed") expect(decision.poolId).toBe(pin)
      if (pinned === undefined || pinned.model !== "m1") expect(decision._tag).toBe("PinInvalid")
      else if (pinned.state !== "Ready") expect(decision._tag).toBe("PinUnready")
      else expect(decision._tag).toBe(pinned.slotsFree > 0 ? "Placed" : "Wait")
    }
  )

  it("keeps a session on its last pool when it has a free slot", () => {
    const pool = (id: string, activeLeases: number): PlacementPolicy.Candidate => ({
      poolId: poolIdOf(id),
      state: "Ready",
      model: "m",
      slotsFree: 1,
      activeLeases
    })
    const pools = [pool("a", 0), pool("b", 3)]
    expect(PlacementPolicy.place(pools, { model: "m" })).toEqual({ _tag: "Placed", poolId: "a", kvWarmth: false })
    expect(PlacementPolicy.place(pools, { model: "m", lastPoolId: "b" })).toEqual({
      _tag: "Placed",
      poolId: "b",
      kvWarmth: true
    })
    const full = [pool("a", 0), { ...pool("b", 3), slotsFree: 0 }]
    expect(PlacementPolicy.place(full, { model: "m", lastPoolId: "b" })).toEqual({
      _tag: "Placed",
      poolId: "a",
      kvWarmth: false
    })
  })
})
