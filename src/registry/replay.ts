/**
 * Replay: what a subscriber that resumes from a Last-Event-ID missed. The
 * registry's ring answers for recent ids; for older ones, a backplane with a
 * history (`since()`, a Redis stream) may still have the events. The registry
 * sets such a subscriber aside while the history is read (its `#resume`), so
 * it sees no gap and no event twice.
 */
import type { Backplane, BackplaneEvent } from './backplane.js'
import { toRingEvent, visibleTo, type ReplayRing, type RingEvent } from './ring.js'

/** A registry's replay: its ring, and its backplane's history behind it (internal). */
export class Replay {
  readonly #ring: ReplayRing
  readonly #backplane: Backplane
  readonly #channel: string
  // The registry's subscription: history is read once it is live, so the two meet.
  readonly #subscribed: Promise<unknown>

  constructor (ring: ReplayRing, backplane: Backplane, channel: string, subscribed: Promise<unknown>) {
    this.#ring = ring
    this.#backplane = backplane
    this.#channel = channel
    this.#subscribed = subscribed
  }

  /**
   * The ring's events after `lastEventId` that a subscriber of `key` may see,
   * without those not yet written (`unwritten`: coalesced events the flush
   * brings); `undefined` when the ring does not reach back to it.
   */
  fromRing (lastEventId: string, key: string | undefined, unwritten: ReadonlySet<string>): RingEvent[] | undefined {
    const missed = this.#ring.after(lastEventId)
    return missed === undefined ? undefined : visibleTo(missed, key).filter((event) => !unwritten.has(event.id))
  }

  /** True when an id older than the ring may still be found: the backplane keeps a history, and replay is on. */
  get reachesHistory (): boolean {
    return this.#backplane.since !== undefined && this.#ring.capacity > 0
  }

  /** The backplane's events after `lastEventId` (`undefined`: not in its history either). */
  async history (lastEventId: string): Promise<BackplaneEvent[] | undefined> {
    await this.#subscribed
    return await this.#backplane.since?.(this.#channel, lastEventId)
  }

  /**
   * What a subscriber of `key` resuming from `lastEventId` missed: the
   * `history` events older than the ring, then the ring's (without the
   * `unwritten` ones); `undefined` when events may be missing between the two
   * (the ring turned over while the history was read).
   */
  afterHistory (history: BackplaneEvent[], lastEventId: string, key: string | undefined, unwritten: ReadonlySet<string>): RingEvent[] | undefined {
    const compare = (a: string, b: string): number => this.#backplane.compare(a, b)
    const oldest = this.#ring.oldest
    const older: RingEvent[] = []
    for (const event of history) {
      if (oldest !== undefined && compare(event.id, oldest.id) >= 0) break
      older.push(toRingEvent(event))
    }
    let recent: RingEvent[] = []
    if (oldest !== undefined) {
      const reached = history.length > 0 ? (history[history.length - 1] as BackplaneEvent).id : lastEventId
      if (this.#ring.size === this.#ring.capacity && compare(reached, oldest.id) < 0) return undefined
      recent = [oldest, ...(this.#ring.after(oldest.id) ?? [])]
        .filter((event) => compare(event.id, lastEventId) > 0 && !unwritten.has(event.id))
    }
    return visibleTo([...older, ...recent], key)
  }
}
