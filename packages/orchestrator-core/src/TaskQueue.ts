/**
 * A bounded two-priority queue (one per model): `interactive` entries are always taken before
 * `batch` entries, FIFO within a priority. Enqueue, dequeue and removal are O(1): two intrusive
 * doubly linked lists, where `offer` hands back the entry itself as the handle for a later
 * `remove` (no hashing on any path). The structure is synchronous and pure of effects; the
 * orchestrator wraps it and keeps each task's entry.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type { Priority } from "./TaskRequest.js"

/**
 * What happens when a full queue receives a task:
 *
 * - `reject`: the new task is refused (`ADMISSION_REJECT`).
 * - `drop-lru`: the oldest queued task (longest waiting, either priority) is evicted and ends with
 *   `QUEUE_FULL_DROP_LRU`; the new task is admitted.
 * - `shed-low-priority`: an interactive arrival evicts the newest batch task (which also ends with
 *   `QUEUE_FULL_DROP_LRU`); when there is no batch task, or the arrival is itself batch, the new
 *   task is refused.
 *
 * @category schemas
 * @since 0.1.0
 */
export const QueuePolicy = Schema.Literal("reject", "drop-lru", "shed-low-priority")

/**
 * A value of the `QueuePolicy` schema.
 *
 * @category models
 * @since 0.1.0
 */
export type QueuePolicy = typeof QueuePolicy.Type

interface Node<A> extends Entry<A> {
  readonly owner: object
  readonly seq: number
  queued: boolean
  prev: Node<A> | undefined
  next: Node<A> | undefined
}

/**
 * One queued entry as seen from outside; also the handle `remove` takes.
 *
 * @category models
 * @since 0.1.0
 */
export interface Entry<A> {
  readonly id: string
  readonly value: A
  readonly priority: Priority
}

class List<A> {
  head: Node<A> | undefined = undefined
  tail: Node<A> | undefined = undefined
  size = 0

  pushBack(node: Node<A>): void {
    node.prev = this.tail
    node.next = undefined
    if (this.tail === undefined) this.head = node
    else this.tail.next = node
    this.tail = node
    this.size++
  }

  pushFront(node: Node<A>): void {
    node.next = this.head
    node.prev = undefined
    if (this.head === undefined) this.tail = node
    else this.head.prev = node
    this.head = node
    this.size++
  }

  unlink(node: Node<A>): void {
    if (node.prev === undefined) this.head = node.next
    else node.prev.next = node.next
    if (node.next === undefined) this.tail = node.prev
    else node.next.prev = node.prev
    node.prev = undefined
    node.next = undefined
    this.size--
  }
}

/**
 * The outcome of `offer`: admitted at `position` (number of entries ahead of it), possibly
 * evicting another entry, or rejected.
 *
 * @category models
 * @since 0.1.0
 */
export type OfferResult<A> =
  | {
    readonly _tag: "Admitted"
    readonly entry: Entry<A>
    readonly position: number
    readonly evicted: Entry<A> | undefined
  }
  | { readonly _tag: "Rejected" }

/**
 * A bounded two-priority FIFO queue.
 *
 * @category models
 * @since 0.1.0
 */
export class TaskQueue<A> {
  private readonly lists: Record<Priority, List<A>> = { interactive: new List(), batch: new List() }
  private count = 0
  private seq = 0

  constructor(readonly capacity: number, readonly policy: QueuePolicy) {}

  /** How many entries are queued. */
  get size(): number {
    return this.count
  }

  /** Whether this entry is still queued here. */
  has(entry: Entry<A>): boolean {
    return this.node(entry)?.queued === true
  }

  /** Adds an entry at the tail of its priority, applying the full-queue policy. */
  offer(id: string, value: A, priority: Priority): OfferResult<A> {
    let evicted: Entry<A> | undefined = undefined
    if (this.count >= this.capacity) {
      const victim = this.victim(priority)
      if (victim === undefined) return { _tag: "Rejected" }
      this.unlink(victim)
      evicted = victim
    }
    const node = this.insert(id, value, priority, false)
    const position = priority === "interactive" ? this.lists.interactive.size - 1 : this.count - 1
    return { _tag: "Admitted", entry: node, position, evicted }
  }

  /** Puts an entry back at the head of its priority (a dispatch that could not proceed); ignores capacity. */
  pushFront(id: string, value: A, priority: Priority): Entry<A> {
    return this.insert(id, value, priority, true)
  }

  /** The head entry (interactive first), without removing it. */
  peek(): Entry<A> | undefined {
    return this.lists.interactive.head ?? this.lists.batch.head
  }

  /** Removes and returns the head entry (interactive first). */
  dequeue(): Entry<A> | undefined {
    const node = this.lists.interactive.head ?? this.lists.batch.head
    if (node !== undefined) this.unlink(node)
    return node
  }

  /** Removes this entry; answers whether it was still queued here. */
  remove(entry: Entry<A>): boolean {
    const node = this.node(entry)
    if (node === undefined || !node.queued) return false
    this.unlink(node)
    return true
  }

  /** Every entry in dispatch order (interactive first, FIFO within a priority). */
  *entries(): IterableIterator<Entry<A>> {
    for (const list of [this.lists.interactive, this.lists.batch]) {
      for (let node = list.head; node !== undefined; node = node.next) yield node
    }
  }

  private victim(arrival: Priority): Node<A> | undefined {
    switch (this.policy) {
      case "reject":
        return undefined
      case "drop-lru": {
        const i = this.lists.interactive.head
        const b = this.lists.batch.head
        if (i === undefined) return b
        if (b === undefined) return i
        return i.seq < b.seq ? i : b
      }
      case "shed-low-priority":
        return arrival === "interactive" ? this.lists.batch.tail : undefined
    }
  }

  private insert(id: string, value: A, priority: Priority, front: boolean): Node<A> {
    const node: Node<A> = {
      id,
      value,
      priority,
      owner: this,
      seq: this.seq++,
      queued: true,
      prev: undefined,
      next: undefined
    }
    if (front) this.lists[priority].pushFront(node)
    else this.lists[priority].pushBack(node)
    this.count++
    return node
  }

  private node(entry: Entry<A>): Node<A> | undefined {
    return isNode(entry) && entry.owner === this ? entry : undefined
  }

  private unlink(node: Node<A>): void {
    this.lists[node.priority].unlink(node)
    node.queued = false
    this.count--
  }
}

const isNode = <A>(entry: Entry<A>): entry is Node<A> => "owner" in entry
