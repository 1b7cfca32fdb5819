import { describe, expect, it } from "@effect/vitest"
import { ModelGrouping } from "../src/index.js"

const base: ModelGrouping.State = {
  now: 10_000,
  agingMs: 5_000,
  retryMs: 1_000,
  waiting: [],
  busy: new Map(),
  loading: new Set(),
  refused: new Map()
}

/** Models with work now. */
const busy = (...models: ReadonlyArray<string>) => new Map(models.map((m) => [m, Infinity]))

const state = (patch: Partial<ModelGrouping.State>): ModelGrouping.State => ({ ...base, ...patch })

describe("ModelGrouping.plan", () => {
  it("loads a waiting model keeping the loaded models with work, and wakes when it ages", () => {
    const out = ModelGrouping.plan(state({
      waiting: [{ model: "b", oldestAt: 9_000 }],
      busy: busy("c", "a", "b")
    }))
    expect(out.loads).toEqual([{ model: "b", keep: ["a", "c"] }])
    expect(out.hold.size).toBe(0)
    expect(out.wakeAt).toBe(14_000)
  })

  it("asks nothing for a model whose load is in flight", () => {
    const out = ModelGrouping.plan(state({ waiting: [{ model: "b", oldestAt: 9_000 }], loading: new Set(["b"]) }))
    expect(out).toEqual({ loads: [], hold: new Set(), wakeAt: undefined })
  })

  it("waits after a refusal that kept models, until one of them drains", () => {
    const refused = new Map([["b", { keep: ["a"], at: 9_500, freed: false }]])
    const waiting = [{ model: "b", oldestAt: 9_000 }]
    const stillBusy = ModelGrouping.plan(state({ waiting, busy: busy("a"), refused }))
    expect(stillBusy.loads).toEqual([])
    expect(stillBusy.hold.size).toBe(0)
    expect(stillBusy.wakeAt).toBe(14_000)
    const drained = ModelGrouping.plan(state({ waiting, busy: busy(), refused }))
    expect(drained.loads).toEqual([{ model: "b", keep: [] }])
  })

  it("keeps nothing once the oldest task aged, and holds the others after that load is refused", () => {
    const waiting = [{ model: "b", oldestAt: 4_000 }]
    const keptA = new Map([["b", { keep: ["a"], at: 5_000, freed: false }]])
    const old = ModelGrouping.plan(state({ waiting, busy: busy("a"), refused: keptA }))
    expect(old.loads).toEqual([{ model: "b", keep: [] }])
    expect(old.wakeAt).toBeUndefined()

    const keptNothing = new Map([["b", { keep: [], at: 9_800, freed: false }]])
    const held = ModelGrouping.plan(state({ waiting, busy: busy("a"), refused: keptNothing }))
    expect(held.loads).toEqual([])
    expect(Array.from(held.hold)).toEqual(["a"])
    expect(held.wakeAt).toBe(10_800)

    const freed = new Map([["b", { keep: [], at: 9_800, freed: true }]])
    expect(ModelGrouping.plan(state({ waiting, busy: busy("a"), refused: freed })).loads).toEqual([
      { model: "b", keep: [] }
    ])
    expect(ModelGrouping.plan(state({ now: 10_800, waiting, busy: busy("a"), refused: keptNothing })).loads)
      .toEqual([{ model: "b", keep: [] }])
  })

  it("a model whose last task ended a moment ago is still kept; the decision wakes when that moment ends", () => {
    const waiting = [{ model: "b", oldestAt: 9_000 }]
    const refused = new Map([["b", { keep: ["a"], at: 9_500, freed: false }]])
    const between = ModelGrouping.plan(state({ waiting, busy: new Map([["a", 10_300]]), refused }))
    expect(between.loads).toEqual([])
    expect(between.wakeAt).toBe(10_300)
    const over = ModelGrouping.plan(state({ waiting, busy: new Map([["a", 9_900]]), refused }))
    expect(over.loads).toEqual([{ model: "b", keep: [] }])
  })

  it("with aging 0 never keeps: grouping is off", () => {
    const out = ModelGrouping.plan(state({
      agingMs: 0,
      waiting: [{ model: "b", oldestAt: 10_000 }],
      busy: busy("a")
    }))
    expect(out.loads).toEqual([{ model: "b", keep: [] }])
    expect(out.wakeAt).toBeUndefined()
  })

  it("alternating demand swaps once per group, not once per request", () => {
    // one device holding one model; a and b each get a request every 100 ms, each runs 250 ms
    const run = (agingMs: number) => {
      let loaded = "a"
      let swaps = 0
      let refused = new Map<string, ModelGrouping.Refusal>()
      const queued = new Map<string, Array<number>>([["a", []], ["b", []]])
      let runningUntil = 0
      for (let now = 0; now < 60_000; now += 50) {
        if (now % 100 === 0) queued.get(now % 200 === 0 ? "a" : "b")?.push(now)
        const mine = queued.get(loaded) ?? []
        const other = loaded === "a" ? "b" : "a"
        const held = ModelGrouping.plan({
          now,
          agingMs,
          retryMs: 1_000,
          waiting: (queued.get(other) ?? []).length > 0
            ? [{ model: other, oldestAt: queued.get(other)?.[0] ?? now }]
            : [],
          busy: mine.length > 0 || runningUntil > now ? busy(loaded) : busy(),
          loading: new Set(),
          refused
        })
        if (!held.hold.has(loaded) && runningUntil <= now && mine.length > 0) {
          mine.splice(0, 3) // three slots
          runningUntil = now + 250
        }
        for (const call of held.loads) {
          const running = runningUntil > now
          if (running || call.keep.includes(loaded)) {
            refused = new Map([[call.model, { keep: call.keep, at: now, freed: false }]])
          } else {
            loaded = call.model
            refused = new Map()
            swaps++
          }
        }
      }
      return swaps
    }
    const grouped = run(5_000)
    const ungrouped = run(0)
    expect(grouped).toBeLessThanOrEqual(13)
    expect(ungrouped).toBeGreaterThan(grouped * 4)
  })
})
