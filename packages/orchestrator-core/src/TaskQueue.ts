/**
 * A bounded two-priority queue (one per model): `interactive` entries are always taken before
 * `batch` entries, FIFO within a priority. Enqueue, dequeue and removal by id are O(1) (two doubly
 * linked lists and a map from id to node). The structure is synchronous and pure of effects; the
 * orchestrator wraps it.
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
 * @since 0.1.0
 */
export const QueuePolicy = Schema.Literal("reject", "drop-lru", "shed-low-priority")

/**
 * @since 0.1.0
 */
export type QueuePolicy = typeof QueuePolicy.Type

interface Node<A> {
  readonly id: string
  readonly value: A
  readonly priority: Priority
  readonly seq: number
  prev: Node<A> | undefined
  next: Node<A> | undefined
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
 * One queued entry as seen from outside.
 *
 * @since 0.1.0
 */
export interface Entry<A> {
  readonly id: string
  readonly value: A
  readonly priority: Priority
}

/**
 * The outcome of `offer`: admitted at `position` (number of entries ahead of it), possibly
 * evicting another entry, or rejected.
 *
 * @since 0.1.0
 */
export type OfferResult<A> =
  | { readonly _tag: "Admitted"; readonly position: number; readonly evicted: Entry<A> | undefined }
  | { readonly _tag: "Rejected" }

/**
 * A bounded two-priority FIFO queue.
 *
 * @since 0.1.0
 */
export class TaskQueue<A> {
  private readonly lists: Record<Priority, List<A>> = { interactive: new List(), batch: new List() }
  private readonly nodes = new Map<string, Node<A>>()
  private seq = 0

  constructor(readonly capacity: number, readonly policy: QueuePolicy) {}

  /** How many entries are queued. */
  get size(): number {
    return this.nodes.size
  }

  /** Whether an entry with this id is queued. */
  has(id: string): boolean {
    return this.nodes.has(id)
  }

  /** Adds an entry at the tail of its priority, applying the full-queue policy. */
  offer(id: string, value: A, priority: Priority): OfferResult<A> {
    let evicted: Entry<A> | undefined = undefined
    if (this.nodes.size >= this.capacity) {
      const victim = this.victim(priority)
      if (victim === undefined) return { _tag: "Rejected" }
      this.removeNode(victim)
      evicted = toEntry(victim)
    }
    const node: Node<A> = { id, value, priority, seq: this.seq++, prev: undefined, next: undefined }
    this.lists[priority].pushBack(node)
    this.nodes.set(id, node)
    const position = priority === "interactive" ? this.lists.interactive.size - 1 : this.nodes.size - 1
    return { _tag: "Admitted", position, evicted }
  }

  /** Puts an entry back at the head of its priority (a dispatch that could not proceed); ignores capacity. */
  pushFront(id: string, value: A, priority: Priority): void {
    const node: Node<A> = { id, value, priority, seq: this.seq++, prev: undefined, next: undefined }
    this.lists[priority].pushFront(node)
    this.nodes.set(id, node)
  }

  /** The head entry (interactive first), without removing it. */
  peek(): Entry<A> | undefined {
    const node = this.lists.interactive.head ?? this.lists.batch.head
    return node === undefined ? undefined : toEntry(node)
  }

  /** Removes and returns the head entry (interactive first). */
  dequeue(): Entry<A> | undefined {
    const node = this.lists.interactive.head ?? this.lists.batch.head
    if (node === undefined) return undefined
    this.removeNode(node)
    return toEntry(node)
  }

  /** Removes the entry with this id; answers whether it was queued. */
  remove(id: string): boolean {
    const node = this.nodes.get(id)
    if (node === undefined) return false
    this.removeNode(node)
    return true
  }

  /** Every entry in dispatch order (interactive first, FIFO within a priority). */
  *entries(): IterableIterator<Entry<A>> {
    for (const list of [this.lists.interactive, this.lists.batch]) {
      for (let node = list.head; node !== undefined; node = node.next) yield toEntry(node)
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

  private removeNode(node: Node<A>): void {
    this.lists[node.priority].unlink(node)
    this.nodes.delete(node.id)
  }
}

const toEntry = <A>(node: Node<A>): Entry<A> => ({ id: node.id, value: node.value, priority: node.priority })
