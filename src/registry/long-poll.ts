/**
 * Long-poll waiters: a request asks for the events newer than its cursor and
 * is answered at once from the replay ring (or, for a cursor older than the
 * ring, from the backplane's history), or held until the registry delivers a
 * newer event it may see, or until its timeout.
 */
import { DEFAULT_POLL_TIMEOUT, type PollOptions } from './options.js'
import { fitting, joinEvents, START_CURSOR, visibleTo, type ReplayRing, type RingEvent } from './ring.js'

/** What a long-poll wait ends with; every answer carries the cursor to poll from next. */
export type PollResult =
  | { status: 'events', events: Buffer, cursor: string }
  | { status: 'timeout', cursor: string }
  | { status: 'reset', cursor: string }
  | { status: 'aborted', cursor: string }

interface Waiter {
  key: string | undefined
  // The client's cursor, when this node has not written it yet (it lags, or coalesces): nothing up to it is answered.
  after: string | undefined
  resolve: (result: PollResult) => void
  timer: NodeJS.Timeout
  signal: AbortSignal | undefined
  onAbort: () => void
}

/** A registry's held long-poll requests (internal: `Registry.poll()` is the public face). */
export class LongPoll {
  readonly #ring: ReplayRing
  // The registry's newest written event, if any.
  readonly #newest: () => string | undefined
  readonly #waiters = new Set<Waiter>()
  // What the backplane's history has after a cursor the ring lacks (undefined: it lacks it too).
  readonly #history: (cursor: string, key: string | undefined) => Promise<RingEvent[] | undefined>
  // Largest answer of missed events: past it, the answer stops and its cursor fetches the rest.
  readonly #maxBytes: number
  // Orders two ids (the backplane's).
  readonly #compare: (a: string, b: string) => number

  constructor (ring: ReplayRing, newest: () => string | undefined, history: (cursor: string, key: string | undefined) => Promise<RingEvent[] | undefined>, compare: (a: string, b: string) => number, maxBytes: number) {
    this.#ring = ring
    this.#newest = newest
    this.#history = history
    this.#compare = compare
    this.#maxBytes = maxBytes
  }

  // The cursor every answer carries: the newest written event, or the start when there is none
  // yet, so that a client always has a cursor to come back with (and never spins on a stale one).
  #cursor (): string {
    return this.#newest() ?? START_CURSOR
  }

  /** How many requests are held. */
  get waiting (): number {
    return this.#waiters.size
  }

  /** Answers with the events newer than `cursor`, now or when they come. */
  poll (cursor: string | undefined, options: PollOptions): Promise<PollResult> {
    const newest = this.#cursor()
    if (cursor !== undefined && cursor !== '' && cursor !== newest) {
      const missed = this.#ring.after(cursor)
      if (missed === undefined) return this.#fromHistory(cursor, options)
      // Up to the cursor given back: coalesced events past it are not written
      // yet, and would come again to a client that polls from that cursor.
      const written = missed.slice(0, missed.findIndex((event) => event.id === newest) + 1)
      const visible = visibleTo(written, options.key)
      if (visible.length > 0) return Promise.resolve(this.#page(visible, newest))
    }
    return this.#wait(options, cursor)
  }

  // Older than the ring: the backplane's history, then the ring, up to the newest written event; a reset when neither reaches back.
  async #fromHistory (cursor: string, options: PollOptions): Promise<PollResult> {
    const missed = await this.#history(cursor, options.key)
    if (missed === undefined) return { status: 'reset', cursor: this.#cursor() }
    if (missed.length > 0) return this.#page(missed, this.#cursor())
    return await this.#wait(options, cursor)
  }

  // Missed events up to the bound; when some are left, the cursor is the last one sent, so the next poll gets the rest.
  #page (missed: RingEvent[], cursor: string): PollResult {
    const count = fitting(missed, this.#maxBytes)
    if (count === missed.length) return { status: 'events', events: joinEvents(missed), cursor }
    const page = missed.slice(0, count)
    return { status: 'events', events: joinEvents(page), cursor: (page[count - 1] as RingEvent).id }
  }

  #wait (options: PollOptions, cursor: string | undefined): Promise<PollResult> {
    // A cursor past this node's newest written event: the client has events this node has yet to write.
    const after = cursor !== undefined && cursor !== '' && this.#compare(cursor, this.#cursor()) > 0 ? cursor : undefined
    if (options.signal?.aborted === true) return Promise.resolve({ status: 'aborted', cursor: after ?? this.#cursor() })
    return new Promise((resolve) => {
      const timeout = options.timeout ?? DEFAULT_POLL_TIMEOUT
      // Jitter spreads the re-polls of clients that connected together.
      const hold = timeout * (0.9 + Math.random() * 0.2)
      const waiter: Waiter = {
        key: options.key,
        after,
        resolve,
        signal: options.signal,
        onAbort: () => { this.#end(waiter, { status: 'aborted', cursor: this.#cursorFor(waiter) }) },
        timer: setTimeout(() => { this.#end(waiter, { status: 'timeout', cursor: this.#cursorFor(waiter) }) }, hold)
      }
      options.signal?.addEventListener('abort', waiter.onAbort, { once: true })
      this.#waiters.add(waiter)
    })
  }

  // The cursor a waiter is answered with: never behind the one it came with (no event it has comes again).
  #cursorFor (waiter: Waiter): string {
    const cursor = this.#cursor()
    return waiter.after !== undefined && this.#compare(waiter.after, cursor) > 0 ? waiter.after : cursor
  }

  /** Answers the waiters that may see some of `events`, just delivered. */
  answer (events: RingEvent[]): void {
    if (this.#waiters.size === 0) return
    let broadcast: Buffer | undefined
    for (const waiter of [...this.#waiters]) {
      const after = waiter.after
      const visible = visibleTo(after === undefined ? events : events.filter((event) => this.#compare(event.id, after) > 0), waiter.key)
      if (visible.length === 0) continue
      // Encoded once for every waiter that sees the same events.
      const bytes = visible.length === events.length ? (broadcast ??= joinEvents(events)) : joinEvents(visible)
      this.#end(waiter, { status: 'events', events: bytes, cursor: this.#cursorFor(waiter) })
    }
  }

  /** Answers every waiter: a timeout when the registry is closing, a reset (from this node's cursor) when events may have been lost. */
  endAll (status: 'timeout' | 'reset'): void {
    for (const waiter of [...this.#waiters]) this.#end(waiter, { status, cursor: status === 'reset' ? this.#cursor() : this.#cursorFor(waiter) })
  }

  #end (waiter: Waiter, result: PollResult): void {
    if (!this.#waiters.delete(waiter)) return
    clearTimeout(waiter.timer)
    waiter.signal?.removeEventListener('abort', waiter.onAbort)
    waiter.resolve(result)
  }
}
