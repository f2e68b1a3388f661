/**
 * Named broadcast registries (datastar-cl's `make-sse-registry` and
 * `notify-subscribers`): a set of subscribers of any transport, broadcasts
 * encoded once and handed as the same bytes to every subscriber, unicast by
 * key, a replay ring for clients that resume with Last-Event-ID, long-poll
 * waiters, and a backplane so several nodes share one stream of events.
 */
import { AsyncResource } from 'node:async_hooks'
import { FST_ERR_REGISTRY_CLOSED, FST_ERR_REGISTRY_INVALID_OPTION } from '../errors.js'
import { SharedEvent } from '../sse/chunk.js'
import { encodeEvent, type SSEMessage } from '../sse/format.js'
import {
  consoleErrorEvent,
  consoleLogEvent,
  dispatchCustomEventEvent,
  executeScriptEvent,
  patchElementsEvent,
  patchSignalsEvent,
  prefetchEvent,
  redirectEvent,
  removeElementsByIdEvent,
  removeElementsEvent,
  removeSignalsEvent,
  replaceUrlEvent,
  type CustomEventOptions,
  type EventOptions,
  type ExecuteScriptOptions,
  type PatchElementsOptions,
  type PatchSignalsOptions,
  type SignalsPatch
} from '../datastar/events.js'
import { isExcepted, type BroadcastOptions } from '../broadcast.js'
import { MemoryBackplane, type Backplane, type BackplaneEvent, type BackplaneMessage } from './backplane.js'
import { ReplayRing, type RingEvent } from './ring.js'

/**
 * What a registry needs of a subscriber, whatever its transport: an SSE or
 * Datastar stream, a WebSocket client, a long-poll waiter.
 */
export interface Subscriber {
  /** Hands over encoded event bytes; must not block or throw for a slow client. */
  write (encoded: string | Buffer): unknown
  /**
   * Optional, used instead of `write(event.bytes)` for broadcasts: the same
   * bytes plus, made once per event, their HTTP/1.1 chunk framing (an SSE
   * stream writes that straight to its socket). Same rules as `write()`.
   */
  writeShared? (event: SharedEvent): unknown
  /** Runs `handler` once the subscriber is gone, passing the subscriber. */
  onClose (handler: (subscriber: this) => void): void
  readonly isClosed: boolean
  /** The id the client resumes from (an SSE stream's Last-Event-ID). */
  readonly lastEventId?: string | undefined
}

/** Options of a registry. */
export interface RegistryOptions<S extends Subscriber = Subscriber> {
  /** Events kept for replay. Default 256; 0 disables replay. */
  replay?: number
  /**
   * Gather the events published within this many ms and write them to each
   * subscriber at once (one write, one syscall, per subscriber per window).
   * Default false: every event is written when it is published.
   */
  coalesce?: number | false
  /** Called for a subscriber whose Last-Event-ID is older than the ring: send it the full state. */
  onResync?: (subscriber: S, lastEventId: string) => void
  /** Shares events between nodes. Default: an in-memory backplane (this node only). */
  backplane?: Backplane
  /** Receives errors thrown by subscribers' writes and hooks. */
  onError?: (error: Error) => void
}

/** Options of `add()`. */
export interface AddOptions {
  /** Unicast key: `registry.to(key)` reaches the subscribers added with it. */
  key?: string
  /** Replay what came after this id; defaults to the subscriber's own `lastEventId`. */
  lastEventId?: string
}

export type { BroadcastOptions } from '../broadcast.js'

/** What a long-poll wait ends with. */
export type PollResult =
  | { status: 'events', events: Buffer, cursor: string }
  | { status: 'timeout', cursor: string | undefined }
  | { status: 'reset', cursor: string | undefined }
  | { status: 'aborted', cursor: string | undefined }

/** Options of `poll()`. */
export interface PollOptions {
  /** How long to hold the request when nothing is newer than the cursor; default 25 000 ms with ±10 % jitter. */
  timeout?: number
  /** Ends the wait (the client went away). */
  signal?: AbortSignal
  /** Also receive the unicast events of this key. */
  key?: string
}

interface Member {
  key: string | undefined
  // Runs a callback in the async context captured when the subscriber joined.
  // The async context captured when the subscriber joined (an AsyncResource is
  // ~80 bytes where AsyncLocalStorage.snapshot() costs ~2.7 KB per subscriber).
  context: AsyncResource
}

interface Waiter {
  key: string | undefined
  resolve: (result: PollResult) => void
  timer: NodeJS.Timeout
  signal: AbortSignal | undefined
  onAbort: () => void
}

interface PendingEvent<S extends Subscriber> {
  event: RingEvent
  options: BroadcastOptions<S> | undefined
}

/** Default long-poll hold. */
export const DEFAULT_POLL_TIMEOUT = 25_000
/** Default replay ring capacity. */
export const DEFAULT_REPLAY = 256

/**
 * Validates registry options.
 * @example validateRegistryOptions({ replay: 1000, coalesce: 2 })
 */
export function validateRegistryOptions<S extends Subscriber> (options: RegistryOptions<S>): RegistryOptions<S> {
  if (options.replay !== undefined && (!Number.isSafeInteger(options.replay) || options.replay < 0)) {
    throw new FST_ERR_REGISTRY_INVALID_OPTION('replay', `expected a number of events >= 0, got ${String(options.replay)}`)
  }
  if (options.coalesce !== undefined && options.coalesce !== false && (typeof options.coalesce !== 'number' || !(options.coalesce >= 0) || options.coalesce > 1000)) {
    throw new FST_ERR_REGISTRY_INVALID_OPTION('coalesce', 'expected false or a number of milliseconds from 0 to 1000')
  }
  if (options.onResync !== undefined && typeof options.onResync !== 'function') {
    throw new FST_ERR_REGISTRY_INVALID_OPTION('onResync', 'expected a function')
  }
  return options
}

/**
 * The Datastar methods of a broadcast: each encodes its event once and
 * publishes it. A registry is one; `registry.to(key)` gives one for a key.
 * Every method resolves with the id the event got.
 */
export abstract class Broadcaster<S extends Subscriber = Subscriber> {
  /** Publishes an event encoded without an `id:` line. */
  abstract publish (payload: string, options?: BroadcastOptions<S>): Promise<string>

  /**
   * Broadcasts an SSE event (its id is given by the registry).
   * @example await registry.send({ event: 'chat', data: JSON.stringify(message) })
   */
  send (message: Omit<SSEMessage, 'id'>, options?: BroadcastOptions<S>): Promise<string> {
    return this.publish(encodeEvent({ ...message, id: undefined }), options)
  }

  /** Patches elements. @example registry.patchElements('<ul id="messages">…</ul>') */
  patchElements (elements: string, options?: PatchElementsOptions & BroadcastOptions<S>): Promise<string> {
    return this.publish(patchElementsEvent(elements, withoutId(options)), options)
  }

  /** Patches signals. @example registry.patchSignals({ online: 12 }) */
  patchSignals (signals: SignalsPatch, options?: PatchSignalsOptions & BroadcastOptions<S>): Promise<string> {
    return this.publish(patchSignalsEvent(signals, withoutId(options)), options)
  }

  /** Runs a script. @example registry.executeScript('location.reload()') */
  executeScript (script: string, options?: ExecuteScriptOptions & BroadcastOptions<S>): Promise<string> {
    return this.publish(executeScriptEvent(script, withoutId(options)), options)
  }

  /** Removes elements by selector. @example registry.removeElements('#toast') */
  removeElements (selector: string, options?: EventOptions & BroadcastOptions<S>): Promise<string> {
    return this.publish(removeElementsEvent(selector, withoutId(options)), options)
  }

  /** Removes elements by id. @example registry.removeElementsById(['row-1']) */
  removeElementsById (ids: string | readonly string[], options?: EventOptions & BroadcastOptions<S>): Promise<string> {
    return this.publish(removeElementsByIdEvent(ids, withoutId(options)), options)
  }

  /** Removes signals by dotted path. @example registry.removeSignals('draft') */
  removeSignals (paths: string | readonly string[], options?: EventOptions & BroadcastOptions<S>): Promise<string> {
    return this.publish(removeSignalsEvent(paths, withoutId(options)), options)
  }

  /** Navigates. @example registry.redirect('/maintenance') */
  redirect (url: string, options?: EventOptions & BroadcastOptions<S>): Promise<string> {
    return this.publish(redirectEvent(url, withoutId(options)), options)
  }

  /** Logs to the browser console. @example registry.consoleLog('deployed') */
  consoleLog (message: unknown, options?: EventOptions & BroadcastOptions<S>): Promise<string> {
    return this.publish(consoleLogEvent(message, withoutId(options)), options)
  }

  /** Logs an error to the browser console. @example registry.consoleError(error) */
  consoleError (error: unknown, options?: EventOptions & BroadcastOptions<S>): Promise<string> {
    return this.publish(consoleErrorEvent(error, withoutId(options)), options)
  }

  /** Dispatches a CustomEvent. @example registry.dispatchCustomEvent('refresh', { at: Date.now() }) */
  dispatchCustomEvent (name: string, detail?: unknown, options?: CustomEventOptions & BroadcastOptions<S>): Promise<string> {
    return this.publish(dispatchCustomEventEvent(name, detail, withoutId(options)), options)
  }

  /** Replaces the URL. @example registry.replaceUrl('/items?page=2') */
  replaceUrl (url: string, options?: EventOptions & BroadcastOptions<S>): Promise<string> {
    return this.publish(replaceUrlEvent(url, withoutId(options)), options)
  }

  /** Asks browsers to prefetch. @example registry.prefetch(['/next']) */
  prefetch (urls: string | readonly string[], options?: EventOptions & BroadcastOptions<S>): Promise<string> {
    return this.publish(prefetchEvent(urls, withoutId(options)), options)
  }
}

/**
 * A named set of subscribers with encode-once broadcasts.
 * @example
 * const feed = new Registry('feed')
 * feed.add(reply.datastar(), { key: request.session.id })
 * feed.patchElements('<ul id="messages">…</ul>')
 * feed.to(request.session.id).patchSignals({ sent: true })
 */
export class Registry<S extends Subscriber = Subscriber> extends Broadcaster<S> {
  readonly name: string
  readonly #members = new Map<S, Member>()
  readonly #keys = new Map<string, Set<S>>()
  readonly #ring: ReplayRing
  readonly #coalesce: number | false
  readonly #backplane: Backplane
  readonly #onResync: ((subscriber: S, lastEventId: string) => void) | undefined
  readonly #onError: ((error: Error) => void) | undefined
  readonly #waiters = new Set<Waiter>()
  // Options of broadcasts published here, until their event comes back from the backplane.
  readonly #local = new Map<string, BroadcastOptions<S>>()
  #origins = 0
  #pending: Array<PendingEvent<S>> = []
  #flushTimer: NodeJS.Timeout | NodeJS.Immediate | null = null
  // The newest event written to subscribers (the ring may hold newer, coalesced ones).
  #delivered: string | undefined
  #unsubscribe: Promise<() => Promise<void>>
  #closed = false

  constructor (name: string, options: RegistryOptions<S> = {}) {
    super()
    validateRegistryOptions(options)
    this.name = name
    this.#ring = new ReplayRing(options.replay ?? DEFAULT_REPLAY)
    this.#coalesce = options.coalesce ?? false
    this.#backplane = options.backplane ?? new MemoryBackplane()
    this.#onResync = options.onResync
    this.#onError = options.onError
    this.#unsubscribe = this.#backplane.subscribe(name, this.#receive)
    // A failed subscription is reported, and seen again by close().
    this.#unsubscribe.catch((error: Error) => this.#report(error))
  }

  /** Resolves once the registry listens to its backplane (at once in memory). */
  async ready (): Promise<void> {
    await this.#unsubscribe
  }

  /** The id of the newest event written to subscribers (the cursor a full-state snapshot resumes from). */
  get lastEventId (): string | undefined {
    return this.#delivered
  }

  /** How many subscribers are in the registry. */
  get size (): number {
    return this.#members.size
  }

  /** True if `subscriber` is in the registry. */
  has (subscriber: S): boolean {
    return this.#members.has(subscriber)
  }

  /** The subscribers added with `key`. */
  get (key: string): S[] {
    return [...(this.#keys.get(key) ?? [])]
  }

  /**
   * Adds a subscriber; it leaves by itself when it closes. With a Last-Event-ID
   * it first receives, in order, the events it missed (or `onResync` is called
   * when they are no longer known), then live events, with no gap or repeat.
   */
  add (subscriber: S, options: AddOptions = {}): this {
    if (this.#closed) throw new FST_ERR_REGISTRY_CLOSED(this.name)
    if (subscriber.isClosed || this.#members.has(subscriber)) return this
    const key = options.key
    this.#members.set(subscriber, { key, context: new AsyncResource('fastify-datastar.subscriber') })
    if (key !== undefined) {
      let keyed = this.#keys.get(key)
      if (keyed === undefined) this.#keys.set(key, keyed = new Set())
      keyed.add(subscriber)
    }
    subscriber.onClose(this.#leave)
    const lastEventId = options.lastEventId ?? subscriber.lastEventId
    if (lastEventId !== undefined && lastEventId !== '') this.#replay(subscriber, key, lastEventId)
    return this
  }

  // One handler for every member: subscribers pass themselves when they close.
  readonly #leave = (subscriber: S): void => { this.delete(subscriber) }

  /** Removes a subscriber; true if it was there. */
  delete (subscriber: S): boolean {
    const member = this.#members.get(subscriber)
    if (member === undefined) return false
    this.#members.delete(subscriber)
    if (member.key !== undefined) {
      const keyed = this.#keys.get(member.key)
      keyed?.delete(subscriber)
      if (keyed?.size === 0) this.#keys.delete(member.key)
    }
    return true
  }

  /**
   * Calls `fn` for each subscriber of a snapshot taken now, in the async
   * context the subscriber joined in; errors are caught per subscriber. The
   * subscribers that threw or had closed are removed and returned.
   * @example const gone = await registry.notify((sse) => sse.patchSignals({ online: count }))
   */
  async notify (fn: (subscriber: S) => unknown): Promise<S[]> {
    const dead: S[] = []
    const calls: Array<Promise<unknown>> = []
    for (const [subscriber, member] of [...this.#members]) {
      if (subscriber.isClosed) {
        dead.push(subscriber)
        continue
      }
      calls.push(Promise.resolve().then(() => member.context.runInAsyncScope(fn, undefined, subscriber)).catch((error: Error) => {
        this.#report(error)
        dead.push(subscriber)
      }))
    }
    await Promise.all(calls)
    for (const subscriber of dead) this.delete(subscriber)
    return dead
  }

  /**
   * Broadcasts an event already encoded without an `id:` line; the registry
   * adds its own id, encodes once, and writes the same bytes to every subscriber.
   */
  publish (payload: string, options?: BroadcastOptions<S>, key?: string): Promise<string> {
    if (this.#closed) return Promise.reject(new FST_ERR_REGISTRY_CLOSED(this.name))
    let origin: string | undefined
    if (options?.except !== undefined || options?.filter !== undefined) {
      origin = String(++this.#origins)
      this.#local.set(origin, options)
    }
    const message: BackplaneMessage = { payload, key, origin }
    if (options?.filter !== undefined) message.filtered = true
    // In memory, delivery happens before publish() returns.
    if (this.#backplane instanceof MemoryBackplane) return Promise.resolve(this.#backplane.publishNow(this.name, message))
    return this.#backplane.publish(this.name, message).catch((error: Error) => {
      if (origin !== undefined) this.#local.delete(origin)
      throw error
    })
  }

  /**
   * The unicast side: broadcasts to the subscribers added with `key` only, on every node.
   * @example registry.to(sessionId).patchSignals({ saved: true })
   */
  to (key: string): Broadcaster<S> {
    return new KeyedBroadcaster(this, key)
  }

  /**
   * Waits for events newer than `cursor` (long-poll): at once if there are
   * some, else until the next event or the timeout. A cursor older than the
   * ring (or unknown) resolves `reset`: fetch the full state and poll from the
   * cursor it gives.
   */
  poll (cursor: string | undefined, options: PollOptions = {}): Promise<PollResult> {
    const newest = this.#delivered
    if (this.#closed) return Promise.resolve({ status: 'timeout', cursor: newest })
    if (cursor !== undefined && cursor !== '' && cursor !== newest) {
      const missed = this.#ring.after(cursor)
      if (missed === undefined) return Promise.resolve({ status: 'reset', cursor: newest })
      const visible = this.#visible(missed, options.key)
      if (visible.length > 0) {
        return Promise.resolve({ status: 'events', events: Buffer.concat(visible.map((event) => event.bytes)), cursor: newest as string })
      }
    }
    if (options.signal?.aborted === true) return Promise.resolve({ status: 'aborted', cursor: newest })
    return new Promise((resolve) => {
      const timeout = options.timeout ?? DEFAULT_POLL_TIMEOUT
      // Jitter spreads the re-polls of clients that connected together.
      const hold = timeout * (0.9 + Math.random() * 0.2)
      const waiter: Waiter = {
        key: options.key,
        resolve,
        signal: options.signal,
        onAbort: () => { this.#endWait(waiter, { status: 'aborted', cursor: this.#delivered }) },
        timer: setTimeout(() => { this.#endWait(waiter, { status: 'timeout', cursor: this.#delivered }) }, hold)
      }
      options.signal?.addEventListener('abort', waiter.onAbort, { once: true })
      this.#waiters.add(waiter)
    })
  }

  /** How many long-poll requests are waiting. */
  get waiting (): number {
    return this.#waiters.size
  }

  /** Stops listening to the backplane and answers every waiter; subscribers are left to their transports. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#flush()
    for (const waiter of [...this.#waiters]) this.#endWait(waiter, { status: 'timeout', cursor: this.#delivered })
    this.#members.clear()
    this.#keys.clear()
    this.#local.clear()
    const unsubscribe = await this.#unsubscribe.catch(() => undefined)
    await unsubscribe?.()
  }

  readonly #receive = (event: BackplaneEvent): void => {
    if (this.#closed) return
    let options: BroadcastOptions<S> | undefined
    if (event.origin !== undefined) {
      options = this.#local.get(event.origin)
      this.#local.delete(event.origin)
    }
    // A filter runs where it was given: elsewhere (other nodes, later replays,
    // long-poll waiters) nobody can tell who may see the event, so nobody does.
    if (event.filtered === true && options === undefined) return
    // It also goes out without an id, so a client's Last-Event-ID stays on an event it can resume from.
    const filtered = event.filtered === true
    const ringEvent: RingEvent = { id: event.id, key: event.key, bytes: Buffer.from(filtered ? event.payload : 'id: ' + event.id + '\n' + event.payload) }
    if (this.#coalesce === false) {
      this.#deliver(ringEvent, options)
      if (!filtered) this.#recorded([ringEvent])
      return
    }
    if (!filtered) this.#ring.push(ringEvent)
    this.#pending.push({ event: ringEvent, options })
    if (this.#flushTimer === null) {
      this.#flushTimer = this.#coalesce === 0 ? setImmediate(this.#flush) : setTimeout(this.#flush, this.#coalesce)
    }
  }

  /** Writes the coalesced events: consecutive plain broadcasts as one chunk, the rest one by one. */
  readonly #flush = (): void => {
    if (this.#flushTimer !== null) {
      clearTimeout(this.#flushTimer as NodeJS.Timeout)
      clearImmediate(this.#flushTimer as NodeJS.Immediate)
      this.#flushTimer = null
    }
    const pending = this.#pending
    if (pending.length === 0) return
    this.#pending = []
    let run: RingEvent[] = []
    const writeRun = (): void => {
      if (run.length === 0) return
      this.#deliver({ id: '', key: undefined, bytes: run.length === 1 ? (run[0] as RingEvent).bytes : Buffer.concat(run.map((event) => event.bytes)) }, undefined)
      run = []
    }
    for (const { event, options } of pending) {
      if (event.key === undefined && options === undefined) {
        run.push(event)
        continue
      }
      writeRun()
      this.#deliver(event, options)
    }
    writeRun()
    const replayable = pending.filter((entry) => entry.options?.filter === undefined).map((entry) => entry.event)
    if (replayable.length > 0) {
      this.#delivered = (replayable[replayable.length - 1] as RingEvent).id
      this.#answerWaiters(replayable)
    }
  }

  /** A delivered, replayable event: into the ring, the newest cursor, and to long-poll waiters. */
  #recorded (events: RingEvent[]): void {
    for (const event of events) this.#ring.push(event)
    this.#delivered = (events[events.length - 1] as RingEvent).id
    this.#answerWaiters(events)
  }

  #deliver (event: RingEvent, options: BroadcastOptions<S> | undefined): void {
    const targets = event.key === undefined ? this.#members.keys() : (this.#keys.get(event.key) ?? []).values()
    const except = options?.except
    const filter = options?.filter
    // The same bytes for everyone; their HTTP/1.1 chunk is framed once, by the first stream that wants it.
    const shared = new SharedEvent(event.bytes)
    for (const subscriber of targets) {
      if (isExcepted(subscriber, except)) continue
      if (filter !== undefined && !this.#safeFilter(filter, subscriber)) continue
      try {
        if (subscriber.writeShared !== undefined) subscriber.writeShared(shared)
        else subscriber.write(event.bytes)
      } catch (error) {
        // One broken subscriber never stops the others.
        this.#report(error as Error)
        this.delete(subscriber)
      }
    }
  }

  #safeFilter (filter: (subscriber: S) => boolean, subscriber: S): boolean {
    try {
      return filter(subscriber)
    } catch (error) {
      this.#report(error as Error)
      return false
    }
  }

  #replay (subscriber: S, key: string | undefined, lastEventId: string): void {
    const newest = this.#delivered
    if (lastEventId === newest) return
    const missed = this.#ring.after(lastEventId)
    if (missed !== undefined) {
      // Only what was already written to others: coalesced events still pending come with the flush.
      const pendingIds = new Set(this.#pending.map((entry) => entry.event.id))
      const visible = this.#visible(missed, key).filter((event) => !pendingIds.has(event.id))
      if (visible.length > 0) subscriber.write(Buffer.concat(visible.map((event) => event.bytes)))
      return
    }
    if (this.#backplane instanceof MemoryBackplane || this.#ring.capacity === 0) {
      this.#resync(subscriber, lastEventId)
      return
    }
    // Older than the ring: the backplane's own history (a Redis stream) may
    // still have it. Until it answers, the subscriber is set aside (live events
    // reach the ring, not it); then it gets what it missed and rejoins, in one
    // go, so it sees no gap and no event twice.
    const member = this.#members.get(subscriber) as Member
    this.delete(subscriber)
    const rejoin = (history: BackplaneEvent[] | undefined): void => {
      if (this.#closed || subscriber.isClosed || this.#members.has(subscriber)) return
      this.#members.set(subscriber, member)
      if (key !== undefined) {
        let keyed = this.#keys.get(key)
        if (keyed === undefined) this.#keys.set(key, keyed = new Set())
        keyed.add(subscriber)
      }
      const missed = history === undefined ? undefined : this.#afterHistory(history, lastEventId, key)
      if (missed === undefined) this.#resync(subscriber, lastEventId)
      else if (missed.length > 0) subscriber.write(Buffer.concat(missed.map((event) => event.bytes)))
    }
    // Once subscribed, so the history stops where live delivery begins.
    this.ready().then(() => this.#backplane.since(this.name, lastEventId))
      .catch((error: Error) => {
        this.#report(error)
        return undefined
      })
      .then(rejoin)
      .catch((error: Error) => {
        this.#report(error)
        this.delete(subscriber)
      })
  }

  /**
   * What a subscriber resuming from `lastEventId` missed: the backplane's
   * events older than the ring, then the ring's (without coalesced events not
   * yet written: the flush brings them); `undefined` when events may be
   * missing between the two (the ring turned over while the history was read).
   */
  #afterHistory (history: BackplaneEvent[], lastEventId: string, key: string | undefined): RingEvent[] | undefined {
    const compare = (a: string, b: string): number => this.#backplane.compare(a, b)
    const oldest = this.#ring.oldest
    const older: RingEvent[] = []
    for (const event of history) {
      if (oldest !== undefined && compare(event.id, oldest.id) >= 0) break
      older.push({ id: event.id, key: event.key, bytes: Buffer.from('id: ' + event.id + '\n' + event.payload) })
    }
    let recent: RingEvent[] = []
    if (oldest !== undefined) {
      const reached = history.length > 0 ? (history[history.length - 1] as BackplaneEvent).id : lastEventId
      if (this.#ring.size === this.#ring.capacity && compare(reached, oldest.id) < 0) return undefined
      const pendingIds = new Set(this.#pending.map((entry) => entry.event.id))
      recent = [oldest, ...(this.#ring.after(oldest.id) ?? [])]
        .filter((event) => compare(event.id, lastEventId) > 0 && !pendingIds.has(event.id))
    }
    return this.#visible([...older, ...recent], key)
  }

  #resync (subscriber: S, lastEventId: string): void {
    if (this.#onResync === undefined) return
    const member = this.#members.get(subscriber)
    try {
      member?.context.runInAsyncScope(this.#onResync, undefined, subscriber, lastEventId)
    } catch (error) {
      this.#report(error as Error)
    }
  }

  #visible (events: RingEvent[], key: string | undefined): RingEvent[] {
    return events.filter((event) => event.key === undefined || event.key === key)
  }

  #answerWaiters (events: RingEvent[]): void {
    if (this.#waiters.size === 0) return
    const cursor = this.#delivered as string
    let broadcast: Buffer | undefined
    for (const waiter of [...this.#waiters]) {
      const visible = this.#visible(events, waiter.key)
      if (visible.length === 0) continue
      // Encoded once for every waiter that sees the same events.
      const bytes = visible.length === events.length
        ? (broadcast ??= Buffer.concat(events.map((event) => event.bytes)))
        : Buffer.concat(visible.map((event) => event.bytes))
      this.#endWait(waiter, { status: 'events', events: bytes, cursor })
    }
  }

  #endWait (waiter: Waiter, result: PollResult): void {
    if (!this.#waiters.delete(waiter)) return
    clearTimeout(waiter.timer)
    waiter.signal?.removeEventListener('abort', waiter.onAbort)
    waiter.resolve(result)
  }

  #report (error: Error): void {
    if (this.#onError !== undefined) this.#onError(error)
  }
}

/** `registry.to(key)`: the registry's broadcasts, for one key's subscribers. */
class KeyedBroadcaster<S extends Subscriber> extends Broadcaster<S> {
  readonly #registry: Registry<S>
  readonly #key: string

  constructor (registry: Registry<S>, key: string) {
    super()
    this.#registry = registry
    this.#key = key
  }

  publish (payload: string, options?: BroadcastOptions<S>): Promise<string> {
    return this.#registry.publish(payload, options, this.#key)
  }
}

// The registry gives ids; broadcast options are not event options.
function withoutId<T extends { eventId?: string }> (options: T | undefined): T | undefined {
  if (options === undefined) return undefined
  const { eventId: _eventId, except: _except, filter: _filter, ...rest } = options as T & BroadcastOptions
  return rest as T
}
