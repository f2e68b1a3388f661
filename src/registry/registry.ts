/**
 * Named broadcast registries (datastar-cl's `make-sse-registry` and
 * `notify-subscribers`): a set of subscribers of any transport, broadcasts
 * encoded once and handed as the same bytes to every subscriber, unicast by
 * key, and a backplane so several nodes share one stream of events. This file
 * holds the membership and the delivery (with coalescing); the rest is beside
 * it: broadcaster.ts (the Datastar methods), replay.ts (Last-Event-ID
 * resumes), long-poll.ts (held requests), options.ts (options and defaults).
 */
import { deferred, type Deferred } from '../deferred.js'
import { AsyncResource } from 'node:async_hooks'
import { FST_ERR_REGISTRY_CLOSED } from '../errors.js'
import { SharedEvent } from '../sse/chunk.js'
import { isExcepted, type BroadcastOptions, type BroadcastStats } from '../broadcast.js'
import { registryBackplane, registryBroadcast, registryReplay, registryResync } from '../diagnostics.js'
import { closedAsSlowConsumer } from '../slow-consumer.js'
import type { Backplane, BackplaneEvent, BackplaneMessage } from './backplane.js'
import { Broadcaster, KeyedBroadcaster } from './broadcaster.js'
import { LongPoll, type PollResult } from './long-poll.js'
import { resolveRegistryOptions, type AddOptions, type PollOptions, type RegistryOptions } from './options.js'
import { Replay } from './replay.js'
import { fitting, joinEvents, ReplayRing, START_CURSOR, toRingEvent, type RingEvent } from './ring.js'
import type { Subscriber } from './subscriber.js'

interface Member {
  key: string | undefined
  // The async context captured when the subscriber joined, where its callbacks
  // run (an AsyncResource is ~80 bytes where AsyncLocalStorage.snapshot() costs ~2.7 KB per subscriber).
  context: AsyncResource
}

/**
 * Counters of a registry (`registry.stats()`): its broadcasts' (see
 * BroadcastStats), and how its resuming subscribers were served.
 * @example const { replays, resyncs } = registry.stats()
 */
export interface RegistryStats extends BroadcastStats {
  /** Subscribers that resumed from a Last-Event-ID and were written the events they missed (none, if they had missed none). */
  replays: number
  /** Subscribers that resumed from a Last-Event-ID the registry no longer knows (`onResync`). */
  resyncs: number
}

interface PendingEvent<S extends Subscriber> {
  event: RingEvent
  options: BroadcastOptions<S> | undefined
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
  // Subscribers that resumed at an id this node has not written yet (it lags
  // behind the node they left, or is still coalescing): the live events up to
  // that id, which they have, are not written to them again.
  readonly #floors = new Map<S, string>()
  readonly #ring: ReplayRing
  readonly #replay: Replay
  readonly #longPoll: LongPoll
  readonly #coalesce: number | false
  readonly #backplane: Backplane
  readonly #onResync: ((subscriber: S, lastEventId: string) => void) | undefined
  readonly #maxReplayBytes: number
  readonly #onError: ((error: Error) => void) | undefined
  // Options of broadcasts published here, until their event comes back from the backplane.
  readonly #local = new Map<string, BroadcastOptions<S>>()
  #origins = 0
  #pending: Array<PendingEvent<S>> = []
  #flushTimer: NodeJS.Timeout | NodeJS.Immediate | null = null
  // Settles when the coalesced events waiting now have been written (what a publisher's await waits for).
  #written: Deferred<void> | null = null
  // The newest event written to subscribers (the ring may hold newer, coalesced ones).
  #delivered: string | undefined
  #unsubscribe: Promise<() => Promise<void>>
  #connected = false
  // The wait before the next subscribe attempt, while the backplane refuses (close() cuts it short).
  #retry: { timer: NodeJS.Timeout, wake: () => void } | null = null
  #closed = false
  // Counters of stats(): integer increments only, on the paths they count.
  #events = 0
  #bytes = 0
  #slowConsumerCloses = 0
  #replays = 0
  #resyncs = 0

  constructor (name: string, options: RegistryOptions<S> = {}) {
    super()
    const resolved = resolveRegistryOptions(options)
    this.name = name
    this.#ring = new ReplayRing(resolved.replay)
    this.#coalesce = resolved.coalesce
    this.#backplane = resolved.backplane
    this.#onResync = resolved.onResync
    this.#maxReplayBytes = resolved.maxReplayBytes
    this.#onError = resolved.onError
    this.#unsubscribe = this.#subscribe()
    // Rejects only when closed before it could subscribe; close() sees that again.
    this.#unsubscribe.catch(() => {})
    this.#replay = new Replay(this.#ring, this.#backplane, name, this.#unsubscribe)
    this.#longPoll = new LongPoll(this.#ring, () => this.#delivered, this.#pollHistory, (a, b) => this.#backplane.compare(a, b), resolved.maxReplayBytes)
  }

  /** Resolves once the registry listens to its backplane (at once in memory). */
  async ready (): Promise<void> {
    await this.#unsubscribe
  }

  /**
   * True once the registry listens to its backplane. A subscription the
   * backplane refuses (Redis down when the node starts) is reported to
   * `onError` and tried again, with a growing delay, until it succeeds.
   */
  get connected (): boolean {
    return this.#connected
  }

  async #subscribe (): Promise<() => Promise<void>> {
    for (let attempt = 1; ; attempt++) {
      if (this.#closed) throw new FST_ERR_REGISTRY_CLOSED(this.name)
      try {
        const stop = await this.#backplane.subscribe(this.name, this.#receive, this.#lost)
        if (this.#closed) {
          await stop()
          throw new FST_ERR_REGISTRY_CLOSED(this.name)
        }
        this.#setConnected(true, undefined)
        return stop
      } catch (error) {
        if (this.#closed) throw error
        this.#report(error as Error)
        this.#setConnected(false, error as Error)
        await this.#waitToResubscribe(resubscribeDelay(attempt))
      }
    }
  }

  #setConnected (connected: boolean, error: Error | undefined): void {
    this.#connected = connected
    if (registryBackplane.hasSubscribers) registryBackplane.publish({ registry: this, connected, error })
  }

  #waitToResubscribe (delay: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer)
        this.#retry = null
        resolve()
      }
      const timer = setTimeout(wake, delay)
      this.#retry = { timer, wake }
    })
  }

  /** The id of the newest event written to subscribers (the cursor a full-state snapshot resumes from). */
  get lastEventId (): string | undefined {
    return this.#delivered
  }

  /**
   * The registry's counters since it was created: a plain object, read when asked.
   * @example metrics.set({ registry: feed.name }, feed.stats().members)
   */
  stats (): RegistryStats {
    return {
      members: this.#members.size,
      events: this.#events,
      bytes: this.#bytes,
      slowConsumerCloses: this.#slowConsumerCloses,
      replays: this.#replays,
      resyncs: this.#resyncs
    }
  }

  /** How many subscribers are in the registry. */
  get size (): number {
    return this.#members.size
  }

  /**
   * Resolves once every subscriber of this node that can tell (SSE and
   * Datastar streams) has handed what it queued to its socket: backpressure
   * for a publisher that wants to go at its readers' pace. `await` on a
   * broadcast only means the backplane took the event. A stalled subscriber
   * is let go by its stall time, so this always settles.
   * @example for (const row of rows) { feed.patchElements(render(row)); await feed.drained() }
   */
  async drained (): Promise<void> {
    // Coalesced events are written first: they are part of what the subscribers must take.
    if (this.#written !== null) await this.#written.promise
    const waits: Array<Promise<unknown>> = []
    for (const subscriber of this.#members.keys()) if (subscriber.drained !== undefined) waits.push(subscriber.drained())
    await Promise.all(waits)
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
    const member: Member = { key: options.key, context: new AsyncResource('fastify-datastar.subscriber') }
    this.#join(subscriber, member)
    subscriber.onClose(this.#leave)
    const lastEventId = options.lastEventId ?? subscriber.lastEventId
    if (lastEventId !== undefined && lastEventId !== '') this.#resume(subscriber, member, lastEventId)
    return this
  }

  #join (subscriber: S, member: Member): void {
    this.#members.set(subscriber, member)
    if (member.key === undefined) return
    let keyed = this.#keys.get(member.key)
    if (keyed === undefined) this.#keys.set(member.key, keyed = new Set())
    keyed.add(subscriber)
  }

  // One handler for every member: subscribers pass themselves when they close.
  readonly #leave = (subscriber: S): void => {
    if (this.delete(subscriber) && closedAsSlowConsumer(subscriber)) this.#slowConsumerCloses++
  }

  /** Removes a subscriber; true if it was there. */
  delete (subscriber: S): boolean {
    const member = this.#members.get(subscriber)
    if (member === undefined) return false
    this.#members.delete(subscriber)
    this.#floors.delete(subscriber)
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
   * @example await registry.publish('event: tick\ndata: 1\n\n')
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
    // The in-memory backplane delivers inside publish(): once its turn's write (coalesce) is out, the
    // event has been handed to every subscriber of this node when the promise resolves.
    return this.#backplane.publish(this.name, message).then(this.#afterWrite, (error: Error) => {
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
   * @example const result = await registry.poll(request.query.cursor, { signal })
   */
  poll (cursor: string | undefined, options: PollOptions = {}): Promise<PollResult> {
    if (this.#closed) return Promise.resolve({ status: 'timeout', cursor: this.#delivered ?? START_CURSOR })
    return this.#longPoll.poll(cursor, options)
  }

  /** How many long-poll requests are waiting. */
  get waiting (): number {
    return this.#longPoll.waiting
  }

  /** Stops listening to the backplane and answers every waiter; subscribers are left to their transports. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#flush()
    this.#longPoll.endAll('timeout')
    this.#members.clear()
    this.#keys.clear()
    this.#floors.clear()
    this.#local.clear()
    // A subscription still being retried stops at once.
    this.#retry?.wake()
    const unsubscribe = await this.#unsubscribe.catch(() => undefined)
    await unsubscribe?.()
    if (this.#connected) this.#setConnected(false, undefined)
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
    const ringEvent = filtered ? { id: event.id, key: event.key, bytes: Buffer.from(event.payload) } : toRingEvent(event)
    if (this.#coalesce === false) {
      this.#deliver(ringEvent, options)
      if (!filtered) this.#recorded([ringEvent])
      return
    }
    if (!filtered) this.#ring.push(ringEvent)
    this.#pending.push({ event: ringEvent, options })
    if (this.#flushTimer === null) {
      this.#written = deferred()
      this.#flushTimer = this.#coalesce === 0 ? setImmediate(this.#flush) : setTimeout(this.#flush, this.#coalesce)
    }
  }

  /**
   * The backplane lost events this node may not have received (Redis
   * restarted without them): no replay may pass over the gap, so the registry
   * starts over, as if new (an empty ring, no `lastEventId` until the next
   * event), and every subscriber and long-poll waiter is told to resync.
   */
  readonly #lost = (): void => {
    if (this.#closed) return
    this.#flush()
    const last = this.#delivered ?? START_CURSOR
    this.#ring.clear()
    this.#floors.clear()
    this.#delivered = undefined
    this.#longPoll.endAll('reset')
    for (const subscriber of [...this.#members.keys()]) this.#resync(subscriber, last)
  }

  /** Writes the coalesced events: consecutive plain broadcasts as one chunk, the rest one by one. */
  readonly #flush = (): void => {
    if (this.#flushTimer !== null) {
      clearTimeout(this.#flushTimer as NodeJS.Timeout)
      clearImmediate(this.#flushTimer as NodeJS.Immediate)
      this.#flushTimer = null
    }
    const written = this.#written
    this.#written = null
    const pending = this.#pending
    this.#pending = []
    if (pending.length > 0) this.#writePending(pending)
    written?.resolve()
  }

  #writePending (pending: Array<PendingEvent<S>>): void {
    let run: RingEvent[] = []
    const writeRun = (): void => {
      if (run.length === 0) return
      this.#deliver({ id: '', key: undefined, bytes: joinEvents(run) }, undefined, run)
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
      this.#longPoll.answer(replayable)
    }
  }

  // After a publish: with coalesced events waiting, once they are written (at the end of the turn, or the window).
  readonly #afterWrite = (id: string): string | Promise<string> => {
    const written = this.#written
    return written === null ? id : written.promise.then(() => id)
  }

  /** A delivered, replayable event: into the ring, the newest cursor, and to long-poll waiters. */
  #recorded (events: RingEvent[]): void {
    for (const event of events) this.#ring.push(event)
    this.#delivered = (events[events.length - 1] as RingEvent).id
    this.#longPoll.answer(events)
  }

  /** Writes `event` (a coalesced `run` of events joined as one) to the subscribers it is for. */
  #deliver (event: RingEvent, options: BroadcastOptions<S> | undefined, run: RingEvent[] = [event]): void {
    const targets = event.key === undefined ? this.#members.keys() : (this.#keys.get(event.key) ?? []).values()
    const except = options?.except
    const filter = options?.filter
    const floors = this.#floors.size === 0 ? undefined : this.#floors
    // The same bytes for everyone; their HTTP/1.1 chunk is framed once, by the first stream that wants it.
    const shared = new SharedEvent(event.bytes)
    let written = 0
    for (const subscriber of targets) {
      if (except !== undefined && isExcepted(subscriber, except)) continue
      if (filter !== undefined && !this.#safeFilter(filter, subscriber)) continue
      const floor = floors?.get(subscriber)
      let bytes = event.bytes
      if (floor !== undefined) {
        const above = run.filter((each) => this.#backplane.compare(each.id, floor) > 0)
        if (above.length === 0) continue
        floors?.delete(subscriber)
        bytes = joinEvents(above)
      }
      try {
        if (subscriber.writeShared !== undefined && bytes === event.bytes) subscriber.writeShared(shared)
        else subscriber.write(bytes)
        written++
      } catch (error) {
        // One broken subscriber never stops the others.
        this.#report(error as Error)
        this.delete(subscriber)
      }
    }
    const size = event.bytes.length
    this.#events += run.length
    this.#bytes += size * written
    if (registryBroadcast.hasSubscribers) registryBroadcast.publish({ registry: this, events: run.length, subscribers: written, bytes: size })
  }

  #safeFilter (filter: (subscriber: S) => boolean, subscriber: S): boolean {
    try {
      return filter(subscriber)
    } catch (error) {
      this.#report(error as Error)
      return false
    }
  }

  /** A subscriber resuming from `lastEventId`: what it missed (replay.ts), before any live event. */
  #resume (subscriber: S, member: Member, lastEventId: string): void {
    if (lastEventId === this.#delivered) return
    const missed = this.#replay.fromRing(lastEventId, member.key, this.#unwritten())
    if (missed !== undefined) {
      this.#replayTo(subscriber, missed, lastEventId)
      return
    }
    if (!this.#replay.reachesHistory) {
      this.#resync(subscriber, lastEventId)
      return
    }
    // Older than the ring: the backplane's history may still have it. Until it
    // answers, the subscriber is set aside (live events reach the ring, not
    // it); then it gets what it missed and rejoins, in one go, so it sees no
    // gap and no event twice.
    this.delete(subscriber)
    const rejoin = (history: BackplaneEvent[] | undefined): void => {
      if (this.#closed || subscriber.isClosed || this.#members.has(subscriber)) return
      this.#join(subscriber, member)
      const missed = history === undefined ? undefined : this.#replay.afterHistory(history, lastEventId, member.key, this.#unwritten())
      if (missed === undefined) this.#resync(subscriber, lastEventId)
      else this.#replayTo(subscriber, missed, lastEventId)
    }
    this.#replay.history(lastEventId)
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

  // Coalesced events received but not yet written: a replay leaves them to the flush.
  // A long-poll cursor older than the ring: what the backplane's history (and then the ring) has after it.
  readonly #pollHistory = async (cursor: string, key: string | undefined): Promise<RingEvent[] | undefined> => {
    if (!this.#replay.reachesHistory) return undefined
    try {
      const history = await this.#replay.history(cursor)
      return history === undefined ? undefined : this.#replay.afterHistory(history, cursor, key, this.#unwritten())
    } catch (error) {
      // The history could not be read (the backplane is down): reported, and the client reloads, as for a cursor nobody knows.
      this.#report(error as Error)
      return undefined
    }
  }

  #unwritten (): Set<string> {
    return new Set(this.#pending.map((entry) => entry.event.id))
  }

  /**
   * Writes what a resuming subscriber missed, in one write; more than
   * maxReplayBytes is never held for one client: it is resynced. When it
   * missed nothing, this node may not have written its id yet: the live
   * events up to it are kept from it.
   */
  #replayTo (subscriber: S, missed: RingEvent[], lastEventId: string): void {
    if (missed.length === 0) {
      this.#floors.set(subscriber, lastEventId)
      return
    }
    if (fitting(missed, this.#maxReplayBytes) < missed.length) {
      this.#resync(subscriber, lastEventId)
      return
    }
    const bytes = joinEvents(missed)
    subscriber.write(bytes)
    this.#replays++
    if (registryReplay.hasSubscribers) registryReplay.publish({ registry: this, subscriber, lastEventId, events: missed.length, bytes: bytes.length })
  }

  #resync (subscriber: S, lastEventId: string): void {
    this.#resyncs++
    if (registryResync.hasSubscribers) registryResync.publish({ registry: this, subscriber, lastEventId })
    if (this.#onResync === undefined) return
    const member = this.#members.get(subscriber)
    try {
      member?.context.runInAsyncScope(this.#onResync, undefined, subscriber, lastEventId)
    } catch (error) {
      this.#report(error as Error)
    }
  }

  #report (error: Error): void {
    if (this.#onError !== undefined) this.#onError(error)
  }
}

// 100 ms, doubling up to 10 s, less up to a fifth at random (nodes that lost Redis together do not retry together).
function resubscribeDelay (attempt: number): number {
  return Math.round(Math.min(10_000, 100 * 2 ** (attempt - 1)) * (1 - 0.2 * Math.random()))
}
