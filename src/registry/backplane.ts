/**
 * How registries on several nodes share their events. A backplane orders a
 * channel's events and gives each an id; every node hears every event (its own
 * included) and delivers it to its local subscribers. The in-memory backplane
 * is the embedded default (one node); `RedisBackplane` spans nodes.
 */
import { MemoryStore, type SharedStore } from '../cluster/store.js'

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

/** Receives the payloads of a channel's ephemeral messages (`publishEphemeral`), in the order they were published. */
export type EphemeralListener = (payload: Buffer) => void

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
  /**
   * Optional: fire-and-forget messages, for what is worth nothing later
   * (WebSocket room broadcasts, the cluster's heartbeats and requests).
   * Hands `payload` (any bytes) to the listeners every node has on
   * `channel` now, this node's included, with no id and no history: a node
   * that is not listening (down, reconnecting) never gets it. Messages of one
   * publisher arrive in the order it published them. Ephemeral channels are
   * apart from the channels of `publish()`. Both backplanes of this package
   * have it; rooms and the cluster (`ClusterNode`) need it.
   */
  publishEphemeral? (channel: string, payload: Buffer): Promise<void>
  /**
   * Optional, with `publishEphemeral`: listens to an ephemeral channel from
   * when it resolves; resolves with a function that stops listening.
   */
  subscribeEphemeral? (channel: string, listener: EphemeralListener): Promise<() => Promise<void>>
  /**
   * Optional: records every node can read, each with an expiry (RPC
   * sessions across nodes keep theirs there). Both backplanes of this
   * package have one.
   */
  readonly store?: SharedStore
  /** Releases connections and listeners. */
  close (): Promise<void>
}

/** A backplane that carries ephemeral messages too. */
export type EphemeralBackplane = Backplane & Required<Pick<Backplane, 'publishEphemeral' | 'subscribeEphemeral'>>

/**
 * True when `backplane` carries ephemeral messages (`publishEphemeral` and `subscribeEphemeral`).
 * @example if (!hasEphemeral(backplane)) throw new Error('rooms across nodes need ephemeral messages')
 */
export function hasEphemeral (backplane: Backplane): backplane is EphemeralBackplane {
  return typeof backplane.publishEphemeral === 'function' && typeof backplane.subscribeEphemeral === 'function'
}

// Each backplane is closed once, whichever plugins were given it (the registry and the WebSocket plugins may share one).
const closings = new WeakMap<Backplane, Promise<void>>()

/**
 * Closes `backplane` once however many plugins ask: every call after the
 * first resolves when that first close does.
 * @example fastify.addHook('onClose', () => closeBackplaneOnce(backplane))
 */
export function closeBackplaneOnce (backplane: Backplane): Promise<void> {
  let closing = closings.get(backplane)
  if (closing === undefined) closings.set(backplane, closing = backplane.close())
  return closing
}

/**
 * The single-node backplane: delivery is synchronous, so a publish is
 * delivered before `publish()` returns. It keeps no history (no `since()`):
 * the registry's ring is all a resume can use. Ids look like Redis Stream ids,
 * `<start time in ms>-<counter>`: a client that resumes with an id from
 * before a restart is not mistaken for one that missed a few events.
 */
export class MemoryBackplane implements Backplane {
  /** Records shared by the nodes on this backplane (in this process). */
  readonly store: SharedStore = new MemoryStore()
  readonly #channels = new Map<string, { sequence: number, listeners: Set<BackplaneListener> }>()
  // Each subscription is an object of its own: the same function subscribed twice is two listeners.
  readonly #ephemeral = new Map<string, Set<{ listener: EphemeralListener }>>()
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

  /**
   * Hands `payload` to every listener of the ephemeral `channel`, before it returns.
   * @example await backplane.publishEphemeral('ws:/chat/:room', Buffer.from('hi'))
   */
  async publishEphemeral (channel: string, payload: Buffer): Promise<void> {
    for (const subscription of [...this.#ephemeral.get(channel) ?? []]) subscription.listener(payload)
  }

  /**
   * Listens to the ephemeral `channel`; resolves with a function that stops listening.
   * @example const stop = await backplane.subscribeEphemeral('ws:/chat/:room', (payload) => console.log(payload.length))
   */
  async subscribeEphemeral (channel: string, listener: EphemeralListener): Promise<() => Promise<void>> {
    let subscriptions = this.#ephemeral.get(channel)
    if (subscriptions === undefined) this.#ephemeral.set(channel, subscriptions = new Set())
    const subscription = { listener }
    subscriptions.add(subscription)
    const listening = subscriptions
    return async () => {
      listening.delete(subscription)
      if (listening.size === 0 && this.#ephemeral.get(channel) === listening) this.#ephemeral.delete(channel)
    }
  }

  /**
   * How many ephemeral listeners this backplane holds (what a test checks is released).
   * @example backplane.ephemeralListeners // 0 once every room and cluster node is closed
   */
  get ephemeralListeners (): number {
    let count = 0
    for (const subscriptions of this.#ephemeral.values()) count += subscriptions.size
    return count
  }

  compare (a: string, b: string): number {
    const [timeA = 0, sequenceA = 0] = a.split('-').map(Number)
    const [timeB = 0, sequenceB = 0] = b.split('-').map(Number)
    return timeA - timeB || sequenceA - sequenceB
  }

  async close (): Promise<void> {
    this.#channels.clear()
    this.#ephemeral.clear()
  }
}
