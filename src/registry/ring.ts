/**
 * The replay ring: a registry's most recent events, oldest first, with a fixed
 * capacity, so a client that reconnects with Last-Event-ID gets what it missed.
 */
import type { BackplaneEvent } from './backplane.js'

/** An event as delivered: its id, its encoded bytes (id line included), its unicast key. */
export interface RingEvent {
  id: string
  bytes: Buffer
  key: string | undefined
}

/**
 * The cursor of a client that has seen no event of the registry (a long-poll
 * on a registry that has delivered none yet): before every id, in memory as
 * in Redis, so it is never mistaken for an id a client saw.
 */
export const START_CURSOR = '0-0'

export class ReplayRing {
  readonly capacity: number
  #events: RingEvent[] = []
  // Whether any event was ever pushed (with replay off, none is kept).
  #pushed = false
  // Index of the oldest event in #events, which is used as a circular buffer.
  #start = 0
  // The newest event that fell out: a client that saw it missed the whole ring, no more.
  #evictedId: string | undefined

  constructor (capacity: number) {
    this.capacity = capacity
  }

  get size (): number {
    return this.#events.length
  }

  /** Adds the newest event, dropping the oldest when full. */
  push (event: RingEvent): void {
    this.#pushed = true
    if (this.capacity === 0) return
    if (this.#events.length < this.capacity) {
      this.#events.push(event)
      return
    }
    this.#evictedId = (this.#events[this.#start] as RingEvent).id
    this.#events[this.#start] = event
    this.#start = (this.#start + 1) % this.capacity
  }

  /** The oldest event, if any. */
  get oldest (): RingEvent | undefined {
    return this.#events.length === 0 ? undefined : this.#events[this.#start]
  }

  /**
   * The events after `id`, oldest first; `undefined` when `id` is not in the
   * ring (older than it, or unknown).
   */
  after (id: string): RingEvent[] | undefined {
    const length = this.#events.length
    const all = (): RingEvent[] => Array.from({ length }, (_, offset) => this.#events[(this.#start + offset) % length] as RingEvent)
    // A client that saw no event yet: all of them, unless some it missed fell out of the ring (or none is kept).
    if (id === START_CURSOR) return !this.#pushed ? [] : this.#evictedId === undefined && this.capacity > 0 ? all() : undefined
    if (id === this.#evictedId) return all()
    for (let offset = length - 1; offset >= 0; offset--) {
      const index = (this.#start + offset) % length
      if ((this.#events[index] as RingEvent).id !== id) continue
      const found: RingEvent[] = []
      for (let next = offset + 1; next < length; next++) found.push(this.#events[(this.#start + next) % length] as RingEvent)
      return found
    }
    return undefined
  }

  /** Starts over, empty, as if new: no replay may start from an event before (the backplane lost events after them). */
  clear (): void {
    this.#events = []
    this.#start = 0
    this.#pushed = false
    this.#evictedId = undefined
  }
}

/**
 * A backplane event as subscribers receive it: its payload after its `id:` line.
 * @example ring.push(toRingEvent(event))
 */
export function toRingEvent (event: BackplaneEvent): RingEvent {
  return { id: event.id, key: event.key, bytes: Buffer.from('id: ' + event.id + '\n' + event.payload) }
}

/**
 * The events a subscriber added with `key` may see: broadcasts, and the unicasts of its key.
 * @example visibleTo(ring.after(lastEventId) ?? [], 'alice')
 */
export function visibleTo (events: RingEvent[], key: string | undefined): RingEvent[] {
  return events.filter((event) => event.key === undefined || event.key === key)
}

/**
 * How many of `events`, from the first, fit in `maxBytes` (at least one, so
 * that an event larger than the bound still goes out alone).
 * @example const page = events.slice(0, fitting(events, 1024 * 1024))
 */
export function fitting (events: RingEvent[], maxBytes: number): number {
  let bytes = 0
  for (let count = 0; count < events.length; count++) {
    bytes += (events[count] as RingEvent).bytes.length
    if (bytes > maxBytes) return Math.max(count, 1)
  }
  return events.length
}

/**
 * Events' bytes as one buffer, for one write.
 * @example subscriber.write(joinEvents(missed))
 */
export function joinEvents (events: RingEvent[]): Buffer {
  return events.length === 1 ? (events[0] as RingEvent).bytes : Buffer.concat(events.map((event) => event.bytes))
}
