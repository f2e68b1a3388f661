/**
 * How registries on several nodes share their events. A backplane orders a
 * channel's events and gives each an id; every node hears every event (its own
 * included) and delivers it to its local subscribers. The in-memory backplane
 * is the embedded default (one node); `RedisBackplane` spans nodes.
 */

/** One published event as the backplane carries it. */
export interface BackplaneEvent {
  /** Ordered id, assigned by the backplane (the SSE `id:` of the event). */
  id: string
  /** The encoded SSE event without its `id:` line. */
  payload: string
  /** Unicast: only subscribers added with this key receive it. */
  key?: string
  /** Which publish on this node it came from (to apply local-only options). */
  origin?: string
  /**
   * Published with a `filter`, which only its own node can evaluate: other
   * nodes do not deliver it, and no node keeps it for replay.
   */
  filtered?: boolean
}

/** What a publisher hands the backplane. */
export type BackplaneMessage = Omit<BackplaneEvent, 'id'>

/** Receives a channel's events in order. */
export type BackplaneListener = (event: BackplaneEvent) => void

/**
 * What a registry needs to share its events between nodes.
 * @example new Registry('feed', { backplane: new RedisBackplane({ redis: process.env.REDIS_URL }) })
 */
export interface Backplane {
  /** Publishes to `channel`; resolves with the id the event got. */
  publish (channel: string, message: BackplaneMessage): Promise<string>
  /**
   * Listens to `channel` from now on; resolves with a function that stops
   * listening. A backplane that can lose events (a Redis restarted without
   * persistence) calls `onLost` when events may be missing between those it
   * delivered and the next ones: the registry then resyncs its subscribers.
   */
  subscribe (channel: string, listener: BackplaneListener, onLost?: () => void): Promise<() => Promise<void>>
  /**
   * Optional, offered by a backplane that keeps a history (a Redis stream):
   * events of `channel` after `id`, in order (for a resume older than the
   * local replay ring), and only those this node's listeners already received
   * (later ones reach them live: a registry gets each event once); `undefined`
   * when that history does not hold `id` (older than it, or an id it never
   * gave, which the registry must not wait for). Without it, a registry calls
   * `onResync` at once for such a resume.
   */
  since? (channel: string, id: string): Promise<BackplaneEvent[] | undefined>
  /** Orders two ids of this backplane (negative, zero, positive). */
  compare (a: string, b: string): number
  /** Releases connections and listeners. */
  close (): Promise<void>
}

/**
 * The single-node backplane: delivery is synchronous, so a publish is
 * delivered before `publish()` returns. It keeps no history (no `since()`):
 * the registry's ring is all a resume can use. Ids look like Redis Stream ids,
 * `<start time in ms>-<counter>`: a client that resumes with an id from
 * before a restart is not mistaken for one that missed a few events.
 */
export class MemoryBackplane implements Backplane {
  readonly #channels = new Map<string, { sequence: number, listeners: Set<BackplaneListener> }>()
  readonly #epoch = String(Date.now())

  #channel (name: string): { sequence: number, listeners: Set<BackplaneListener> } {
    let channel = this.#channels.get(name)
    if (channel === undefined) {
      channel = { sequence: 0, listeners: new Set() }
      this.#channels.set(name, channel)
    }
    return channel
  }

  async publish (channel: string, message: BackplaneMessage): Promise<string> {
    const state = this.#channel(channel)
    const event: BackplaneEvent = { ...message, id: this.#epoch + '-' + String(++state.sequence) }
    for (const listener of state.listeners) listener(event)
    return event.id
  }

  async subscribe (channel: string, listener: BackplaneListener): Promise<() => Promise<void>> {
    const state = this.#channel(channel)
    state.listeners.add(listener)
    return async () => { state.listeners.delete(listener) }
  }

  compare (a: string, b: string): number {
    const [timeA = 0, sequenceA = 0] = a.split('-').map(Number)
    const [timeB = 0, sequenceB = 0] = b.split('-').map(Number)
    return timeA - timeB || sequenceA - sequenceB
  }

  async close (): Promise<void> {
    this.#channels.clear()
  }
}
