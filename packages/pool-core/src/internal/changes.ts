/**
 * The embedded manager's change feed. Every change of a pool's state is handed to each watcher
 * synchronously, in the step that makes it: a watcher that takes its snapshot and is added in one
 * step sees every later change exactly once, without a lock, a hub or a fiber per subscriber.
 *
 * @internal
 */
import type { StatusChanged } from "../PoolEvent.js"

/** What follows the changes. Neither callback may throw. */
export interface Watcher {
  readonly onChange: (event: StatusChanged) => void
  /** The manager shut down: no change follows. */
  readonly onEnd: () => void
}

/** The watchers of one manager. */
export class Changes {
  private readonly watchers = new Set<Watcher>()
  private ended = false

  /** Hands `event` to every watcher. */
  publish(event: StatusChanged): void {
    if (this.watchers.size === 0) return
    // a copy: a watcher added while this change is handed out took its snapshot after the change
    for (const watcher of Array.from(this.watchers)) watcher.onChange(event)
  }

  /** Adds a watcher and answers how to remove it; after `end`, the watcher ends at once. */
  add(watcher: Watcher): () => void {
    if (this.ended) {
      watcher.onEnd()
      return () => {}
    }
    this.watchers.add(watcher)
    return () => {
      this.watchers.delete(watcher)
    }
  }

  /** Ends every watcher; later ones end as they are added. */
  end(): void {
    this.ended = true
    const all = Array.from(this.watchers)
    this.watchers.clear()
    for (const watcher of all) watcher.onEnd()
  }
}
