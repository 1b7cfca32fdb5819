import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { type Entry, type Priority, type QueuePolicy, TaskQueue } from "../src/index.js"

type Op =
  | { readonly _tag: "offer"; readonly priority: Priority }
  | { readonly _tag: "dequeue" }
  | { readonly _tag: "remove"; readonly pick: number }

const opArb: FastCheck.Arbitrary<Op> = FastCheck.oneof(
  FastCheck.constantFrom<Priority>("interactive", "batch").map((priority) => ({ _tag: "offer" as const, priority })),
  FastCheck.constant({ _tag: "dequeue" as const }),
  FastCheck.nat(1000).map((pick) => ({ _tag: "remove" as const, pick }))
)
const policyArb = FastCheck.constantFrom<QueuePolicy>("reject", "drop-lru", "shed-low-priority")

interface Item {
  readonly id: string
  readonly priority: Priority
  readonly seq: number
}

/** A slow, obviously correct model of the queue: one array in arrival order. */
const modelOrder = (items: ReadonlyArray<Item>) => [
  ...items.filter((i) => i.priority === "interactive"),
  ...items.filter((i) => i.priority === "batch")
]

const modelVictim = (items: ReadonlyArray<Item>, policy: QueuePolicy, arrival: Priority): Item | undefined => {
  switch (policy) {
    case "reject":
      return undefined
    case "drop-lru":
      return items[0]
    case "shed-low-priority":
      return arrival === "interactive" ? items.filter((i) => i.priority === "batch").at(-1) : undefined
  }
}

describe("TaskQueue", () => {
  it.prop(
    "matches the model: priority order, FIFO within a priority, capacity, policy victims, removal",
    [FastCheck.integer({ min: 1, max: 8 }), policyArb, FastCheck.array(opArb, { maxLength: 200 })],
    ([capacity, policy, ops]) => {
      const queue = new TaskQueue<Item>(capacity, policy)
      let items: Array<Item> = []
      const handles = new Map<string, Entry<Item>>()
      let seq = 0
      for (const op of ops) {
        if (op._tag === "offer") {
          const item: Item = { id: `t${seq}`, priority: op.priority, seq: seq++ }
          const result = queue.offer(item.id, item, item.priority)
          if (items.length >= capacity) {
            const victim = modelVictim(items, policy, item.priority)
            if (victim === undefined) {
              expect(result._tag).toBe("Rejected")
              continue
            }
            expect(result._tag === "Admitted" ? result.evicted?.id : "rejected").toBe(victim.id)
            items = items.filter((i) => i !== victim)
          } else {
            expect(result._tag === "Admitted" && result.evicted === undefined).toBe(true)
          }
          items.push(item)
          if (result._tag === "Admitted") handles.set(item.id, result.entry)
          const order = modelOrder(items)
          expect(result._tag === "Admitted" ? result.position : -1).toBe(order.indexOf(item))
        } else if (op._tag === "dequeue") {
          const head = modelOrder(items)[0]
          expect(queue.dequeue()?.id).toBe(head?.id)
          items = items.filter((i) => i !== head)
        } else if (items.length > 0) {
          const target = items[op.pick % items.length]
          const handle = handles.get(target.id)
          expect(handle !== undefined && queue.remove(handle)).toBe(true)
          expect(handle !== undefined && queue.remove(handle)).toBe(false)
          expect(handle !== undefined && queue.has(handle)).toBe(false)
          items = items.filter((i) => i !== target)
        }
        expect(queue.size).toBe(items.length)
        expect(queue.size).toBeLessThanOrEqual(capacity)
        expect(Array.from(queue.entries(), (e) => e.id)).toEqual(modelOrder(items).map((i) => i.id))
      }
    }
  )

  it("removal takes only entries of this queue, and a dequeued entry only once", () => {
    const a = new TaskQueue<string>(4, "reject")
    const b = new TaskQueue<string>(4, "reject")
    const offered = a.offer("x", "x", "batch")
    const entry = offered._tag === "Admitted" ? offered.entry : undefined
    expect(entry !== undefined && b.remove(entry)).toBe(false)
    expect(a.dequeue()).toBe(entry)
    expect(entry !== undefined && a.remove(entry)).toBe(false)
    expect(a.size).toBe(0)
  })

  it("pushFront puts a task back at the head of its priority, beyond capacity", () => {
    const queue = new TaskQueue<string>(1, "reject")
    queue.offer("a", "a", "batch")
    queue.pushFront("b", "b", "batch")
    expect(Array.from(queue.entries(), (e) => e.id)).toEqual(["b", "a"])
    expect(queue.peek()?.id).toBe("b")
  })
})
