/**
 * `fastify-datastar/redis`: the backplane for many nodes. Every channel is a
 * Redis Stream; a publish is an `XADD`, and the id Redis gives the entry is
 * the event's id (the SSE `id:` line), so a client can resume on any node.
 * One connection publishes and reads history; a second one runs a single
 * `XREAD BLOCK` loop over every channel this node listens to. Ephemeral
 * messages (WebSocket rooms, the cluster) are Redis Pub/Sub: `PUBLISH` on the
 * first connection, and a third one, made for the first ephemeral
 * subscription, in subscriber mode.
 *
 * Imported from its own subpath so that apps without ioredis never load it.
 *
 * @example
 * import Fastify from 'fastify'
 * import datastar from 'fastify-datastar'
 * import { RedisBackplane } from 'fastify-datastar/redis'
 * const app = Fastify()
 * await app.register(datastar, { registry: { backplane: new RedisBackplane({ redis: process.env.REDIS_URL }) } })
 */
import { randomUUID } from 'node:crypto'
import { Redis, type RedisOptions } from 'ioredis'
import { FST_ERR_REGISTRY_BACKPLANE, FST_ERR_REGISTRY_INVALID_OPTION } from '../errors.js'
import type { Backplane, BackplaneEvent, BackplaneListener, BackplaneMessage, EphemeralListener } from './backplane.js'
import { redisStore, type SharedStore } from '../cluster/store.js'

/** Options of a `RedisBackplane`. */
export interface RedisBackplaneOptions {
  /**
   * How to reach Redis: a `redis://` URL or ioredis options. Default: ioredis'
   * default, 127.0.0.1:6379.
   * @example new RedisBackplane({ redis: 'redis://127.0.0.1:6379/0' })
   */
  redis?: RedisOptions | string
  /**
   * Prefix of every key this backplane writes: a channel `feed` is the stream
   * `fastify-datastar:feed`. Default `'fastify-datastar:'`.
   * @example new RedisBackplane({ prefix: 'shop:events:' })
   */
  prefix?: string
  /**
   * Entries kept in each channel's stream (approximately: `XADD MAXLEN ~`);
   * this is how far back a client can resume from Redis. Default 10 000.
   * @example new RedisBackplane({ maxLength: 100_000 })
   */
  maxLength?: number
  /**
   * Longest time, in ms, one `XREAD BLOCK` waits before it is issued again.
   * Changes of the channels listened to interrupt it at once, so this only
   * bounds how long a silent, broken connection goes unnoticed. Default 5 000.
   * @example new RedisBackplane({ blockMs: 1000 })
   */
  blockMs?: number
  /**
   * Receives connection errors (each failed reconnection attempt while Redis
   * is down) and errors of the read loop. Default: ignored; publishes still
   * reject with `FST_ERR_REGISTRY_BACKPLANE`.
   * @example new RedisBackplane({ onError: (err) => app.log.warn({ err }, 'redis backplane') })
   */
  onError?: (error: Error) => void
}

/** Default prefix of the keys. @example `${DEFAULT_PREFIX}feed` // the stream of registry 'feed' */
const DEFAULT_PREFIX = 'fastify-datastar:'
/** Default approximate length of each channel's stream. @example new RedisBackplane({ maxLength: DEFAULT_MAX_LENGTH * 10 }) */
const DEFAULT_MAX_LENGTH = 10_000
/** Default longest wait of one XREAD BLOCK, in ms. @example new RedisBackplane({ blockMs: DEFAULT_BLOCK_MS / 5 }) */
const DEFAULT_BLOCK_MS = 5_000

// Entries read per stream per XREAD.
const READ_COUNT = 1000
// The wake stream of a backplane that died without deleting it goes away by itself.
const WAKE_TTL_MS = 60_000
// How long a publish is remembered: longer than ioredis resends an unanswered command after a reconnection.
const PUBLISHED_TTL_MS = 120_000

/**
 * An XADD that happens once per publish: ioredis resends a command whose
 * answer a cut connection lost, though Redis may have applied it. The first
 * run appends the entry and remembers its id under the publish's own key; a
 * resend finds that key and answers the same id, appending nothing. Atomic,
 * as every script is. KEYS: the stream, the publish's key. ARGV: MAXLEN, the
 * key's TTL in ms, then the entry's fields.
 */
const PUBLISH_ONCE = `
local published = redis.call('GET', KEYS[2])
if published then return published end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 3))
redis.call('SET', KEYS[2], id, 'PX', ARGV[2])
return id
`
const STREAM_ID = /^(\d+)-(\d+)$/
const MAX_SEQUENCE = 2n ** 64n - 1n

type StreamEntry = [id: string, fields: string[]]
// The writer connection, with the command PUBLISH_ONCE defines on it.
type PublishingRedis = Redis & { publishOnce: (stream: string, once: string, ...args: string[]) => Promise<string | null> }
type StreamsReply = Array<[key: string, entries: StreamEntry[]]> | null

interface Listening {
  listener: BackplaneListener
  onLost: (() => void) | undefined
  // Only entries after this id are for this listener (the stream's last id when it subscribed).
  from: string
}

interface Channel {
  // The last entry read; the next XREAD starts after it, on reconnection too.
  cursor: string
  listeners: Set<Listening>
}

interface EphemeralChannel {
  // Each subscription is an object of its own: the same function subscribed twice is two listeners.
  listeners: Set<{ listener: EphemeralListener }>
  // Settles once Redis has acknowledged the SUBSCRIBE.
  subscribed: Promise<unknown>
}

/**
 * A backplane over Redis Streams, for registries on several nodes: a
 * broadcast on any node reaches the subscribers of every node, in the order
 * Redis gave, and a client that resumes with `Last-Event-ID` on another node
 * gets what it missed from the stream. A Redis restart is survived: ioredis
 * reconnects, publishes made meanwhile wait in its offline queue, and the read
 * loop resumes after the last entry it delivered.
 *
 * @example
 * const backplane = new RedisBackplane({ redis: 'redis://127.0.0.1:6379' })
 * await app.register(datastar, { registry: { backplane } })
 * // app.close() closes the backplane too.
 */
export class RedisBackplane implements Backplane {
  /**
   * The prefix of this backplane's keys (ioredis' `keyPrefix`, if given, then `prefix`).
   * @example backplane.prefix // 'fastify-datastar:'
   */
  readonly prefix: string
  /**
   * The approximate length of each channel's stream.
   * @example backplane.maxLength // 10000
   */
  readonly maxLength: number
  /**
   * The longest wait of one XREAD BLOCK, in ms.
   * @example backplane.blockMs // 5000
   */
  readonly blockMs: number

  // Tells this node's own events from other nodes' (a publish's `origin` is local).
  readonly #node = randomUUID()
  // Numbers this node's publishes: with the node, the key that makes each one happen once.
  #published = 0
  readonly #writer: Redis
  readonly #reader: Redis
  readonly #onError: ((error: Error) => void) | undefined
  // For the subscriber connection, made on first need.
  readonly #redisOptions: RedisOptions | string | undefined
  // The read loop's channels, by stream key.
  readonly #channels = new Map<string, Channel>()
  // Written to interrupt the XREAD when the channels change (no admin command needed).
  readonly #wakeKey: string
  #wakeCursor = '0-0'
  #loop: Promise<void> | undefined
  #reading = false
  // The read connection was lost: before delivering more, check that each stream still holds the last entry read.
  #reconnected = false
  // Resolves the loop's wait while no channel is listened to.
  #idle: (() => void) | undefined
  // Ends the pauses between retries (close() ends them at once).
  readonly #pauses = new Set<() => void>()
  // Rejects the commands still pending when the backplane closes.
  readonly #pending = new Set<(error: Error) => void>()
  // Ends the wait for the XREAD in flight (close() does not wait for an answer a dead connection never gives).
  #abandonRead: (() => void) | undefined
  #closed = false
  #closing: Promise<void> | undefined
  // A third connection, in Redis' subscriber mode, made by the first ephemeral subscription.
  #subscriber: Redis | undefined
  #store: SharedStore | undefined
  // The ephemeral channels listened to, by Redis channel name.
  readonly #ephemeral = new Map<string, EphemeralChannel>()

  /**
   * Connects to Redis (two connections: one for commands, one for the
   * blocking read loop; a third one for the first ephemeral subscription).
   * @example const backplane = new RedisBackplane({ redis: 'redis://127.0.0.1:6379', maxLength: 50_000 })
   */
  constructor (options: RedisBackplaneOptions = {}) {
    const { redis, prefix = DEFAULT_PREFIX, maxLength = DEFAULT_MAX_LENGTH, blockMs = DEFAULT_BLOCK_MS, onError } = options
    if (redis !== undefined && typeof redis !== 'string' && (typeof redis !== 'object' || redis === null)) {
      throw new FST_ERR_REGISTRY_INVALID_OPTION('redis', 'expected a redis:// URL or ioredis options')
    }
    if (typeof prefix !== 'string') throw new FST_ERR_REGISTRY_INVALID_OPTION('prefix', 'expected a string')
    if (!Number.isSafeInteger(maxLength) || maxLength < 1) {
      throw new FST_ERR_REGISTRY_INVALID_OPTION('maxLength', `expected a number of entries >= 1, got ${String(maxLength)}`)
    }
    if (!Number.isSafeInteger(blockMs) || blockMs < 1) {
      throw new FST_ERR_REGISTRY_INVALID_OPTION('blockMs', `expected a number of milliseconds >= 1, got ${String(blockMs)}`)
    }
    if (onError !== undefined && typeof onError !== 'function') throw new FST_ERR_REGISTRY_INVALID_OPTION('onError', 'expected a function')
    // ioredis' keyPrefix would not be taken off the stream names XREAD answers with: it becomes part of `prefix`.
    this.prefix = (typeof redis === 'object' ? redis.keyPrefix ?? '' : '') + prefix
    this.maxLength = maxLength
    this.blockMs = blockMs
    this.#onError = onError
    this.#redisOptions = redis
    this.#wakeKey = `${this.prefix}__wake__:${this.#node}`
    this.#writer = connect(redis, {})
    // Sent as EVALSHA, and as EVAL again when Redis lost its script cache (a restart).
    this.#writer.defineCommand('publishOnce', { numberOfKeys: 2, lua: PUBLISH_ONCE })
    // The read loop waits for Redis as long as it takes: its XREAD is resent
    // after a reconnection (ioredis' autoResendUnfulfilledCommands) and never
    // given up on (maxRetriesPerRequest: null).
    this.#reader = connect(redis, { maxRetriesPerRequest: null, autoResendUnfulfilledCommands: true })
    // ioredis emits 'error' at each failed (re)connection; without a listener it prints them.
    this.#writer.on('error', this.#report)
    this.#reader.on('error', this.#report)
    this.#reader.on('close', () => { this.#reconnected = true })
    // The XREAD ioredis resends may block: it is interrupted, so the check comes at once.
    this.#reader.on('ready', () => { if (this.#reconnected) this.#interrupt() })
  }

  /**
   * Appends an event to the channel's stream (`XADD key MAXLEN ~ n *`, once:
   * a command ioredis resends after a cut connection appends nothing more);
   * resolves with the id Redis gave it, or rejects with
   * `FST_ERR_REGISTRY_BACKPLANE`. While Redis is down the publish waits in
   * ioredis' offline queue and goes out on reconnection.
   * @example const id = await backplane.publish('feed', { payload: 'event: datastar-patch-signals\ndata: signals {"n":1}\n\n' })
   */
  async publish (channel: string, message: BackplaneMessage): Promise<string> {
    const fields = ['payload', message.payload]
    if (message.key !== undefined) fields.push('key', message.key)
    if (message.origin !== undefined) fields.push('origin', `${this.#node}:${message.origin}`)
    if (message.filtered === true) fields.push('filtered', '1')
    const once = `${this.prefix}__published__:${this.#node}:${++this.#published}`
    const id = await this.#command('publish', () =>
      (this.#writer as PublishingRedis).publishOnce(this.#key(channel), once, String(this.maxLength), String(PUBLISHED_TTL_MS), ...fields))
    if (id === null) throw new FST_ERR_REGISTRY_BACKPLANE('publish', 'XADD gave no id')
    return id
  }

  /**
   * Listens to a channel: `listener` receives, in order, every event
   * published (on any node) after `subscribe()` resolves. Resolves with a
   * function that stops listening. After a lost connection, if the stream no
   * longer holds the last entry read (Redis restarted without persistence,
   * or trimmed entries this node had not read yet), `onLost` is called
   * before the next events: some may be missing.
   * @example
   * const stop = await backplane.subscribe('feed', (event) => console.log(event.id, event.payload))
   * await stop()
   */
  async subscribe (channel: string, listener: BackplaneListener, onLost?: () => void): Promise<() => Promise<void>> {
    const key = this.#key(channel)
    // A concrete id rather than '$': nothing published from now on can be missed.
    // While Redis is down this waits like a publish does (ioredis' maxRetriesPerRequest), then rejects.
    const from = await this.#command('subscribe', () => this.#lastId(key))
    if (this.#closed) throw new FST_ERR_REGISTRY_BACKPLANE('subscribe', 'the backplane is closed')
    let state = this.#channels.get(key)
    if (state === undefined) {
      state = { cursor: from, listeners: new Set() }
      this.#channels.set(key, state)
      this.#interrupt()
    }
    const listening: Listening = { listener, onLost, from }
    state.listeners.add(listening)
    this.#loop ??= this.#run()
    const subscribed = state
    return async () => {
      subscribed.listeners.delete(listening)
      if (subscribed.listeners.size === 0 && this.#channels.get(key) === subscribed) {
        this.#channels.delete(key)
        this.#interrupt()
      }
    }
  }

  /**
   * Records every node can read, each with an expiry, on the command
   * connection (keys start with `prefix`): RPC sessions across nodes.
   * @example await backplane.store.get('rpc:session:abc')
   */
  get store (): SharedStore {
    this.#store ??= redisStore((what, run) => this.#command(what, () => run(this.#writer)), this.prefix)
    return this.#store
  }

  /**
   * Sends an ephemeral message (Redis `PUBLISH` on the channel
   * `<prefix><channel>`): every node subscribed now gets it, none later.
   * Rejects with `FST_ERR_REGISTRY_BACKPLANE` when the command fails.
   * @example await backplane.publishEphemeral('cluster', Buffer.from('{"t":"hb"}'))
   */
  async publishEphemeral (channel: string, payload: Buffer): Promise<void> {
    await this.#command('publishEphemeral', () => this.#writer.publish(this.#key(channel), payload))
  }

  /**
   * Listens to an ephemeral channel (Redis `SUBSCRIBE`, on a third
   * connection made for the first one); resolves once Redis has acknowledged
   * it, waiting for Redis as long as it takes, with a function that stops
   * listening. After a reconnection ioredis subscribes again; what was
   * published meanwhile is lost, as ephemeral messages are.
   * @example const stop = await backplane.subscribeEphemeral('cluster', (payload) => console.log(payload.toString()))
   */
  async subscribeEphemeral (channel: string, listener: EphemeralListener): Promise<() => Promise<void>> {
    if (this.#closed) throw new FST_ERR_REGISTRY_BACKPLANE('subscribeEphemeral', 'the backplane is closed')
    const key = this.#key(channel)
    let state = this.#ephemeral.get(key)
    if (state === undefined) {
      const subscriber = this.#subscriberConnection()
      state = { listeners: new Set(), subscribed: this.#command('subscribeEphemeral', () => subscriber.subscribe(key)) }
      this.#ephemeral.set(key, state)
    }
    const subscription = { listener }
    const listening = state
    listening.listeners.add(subscription)
    const stop = async (): Promise<void> => {
      if (!listening.listeners.delete(subscription) || listening.listeners.size > 0 || this.#ephemeral.get(key) !== listening) return
      this.#ephemeral.delete(key)
      if (this.#closed) return
      const subscriber = this.#subscriber as Redis
      // On the same connection as the SUBSCRIBE: a channel subscribed again later is subscribed after this.
      const unsubscribed = this.#command('unsubscribeEphemeral', () => subscriber.unsubscribe(key))
      // Nothing reaches the listener any more. With Redis unreachable the UNSUBSCRIBE waits for it,
      // and so would whoever is closing: it goes out on reconnection, after ioredis' resubscribe.
      if (subscriber.status === 'ready') await unsubscribed
      else unsubscribed.catch(this.#report)
    }
    try {
      await listening.subscribed
    } catch (error) {
      await stop().catch(() => {})
      throw error
    }
    return stop
  }

  #subscriberConnection (): Redis {
    if (this.#subscriber !== undefined) return this.#subscriber
    // Like the read loop, it waits for Redis as long as it takes; ioredis subscribes again after a reconnection.
    // No ready check: its INFO, sent after a SUBSCRIBE issued while connecting, fails in subscriber mode (ioredis 5).
    const subscriber = connect(this.#redisOptions, { maxRetriesPerRequest: null, enableReadyCheck: false })
    subscriber.on('error', this.#report)
    subscriber.on('messageBuffer', (channel: Buffer, payload: Buffer) => {
      const state = this.#ephemeral.get(channel.toString())
      if (state === undefined) return
      for (const { listener } of [...state.listeners]) {
        try {
          listener(payload)
        } catch (error) {
          this.#report(error as Error)
        }
      }
    })
    this.#subscriber = subscriber
    return subscriber
  }

  /**
   * The events of `channel` after `id` still in its stream (`XRANGE`), in
   * order; `undefined` when the stream does not hold `id`: older than its
   * first entry (trimmed), or never given by it (the stream restarted empty,
   * a made-up id). While this backplane
   * listens to the channel, only events its listeners already received are
   * returned: later ones are on their way to them, so a registry gets each
   * event once.
   * @example const missed = await backplane.since('feed', request.headers['last-event-id'])
   */
  async since (channel: string, id: string): Promise<BackplaneEvent[] | undefined> {
    if (!STREAM_ID.test(id)) return undefined
    const key = this.#key(channel)
    const [at, after] = await this.#command('since', async () => {
      const replies = await this.#writer.multi().xrange(key, id, id).xrange(key, successor(id), '+').exec()
      const error = replies?.find(([failed]) => failed !== null)?.[0]
      if (replies === null || error !== undefined) throw error ?? new Error('the transaction was aborted')
      return replies.map(([, entries]) => entries as StreamEntry[])
    }) as [StreamEntry[], StreamEntry[]]
    if (at.length === 0) return undefined
    const received = this.#channels.get(key)?.cursor
    const events: BackplaneEvent[] = []
    for (const [entryId, fields] of after) {
      if (received !== undefined && this.compare(entryId, received) > 0) break
      const event = toEvent(entryId, fields, undefined)
      if (event !== undefined) events.push(event)
    }
    return events
  }

  /**
   * Orders two stream ids (`<ms>-<seq>`): negative, zero or positive.
   * @example backplane.compare('1700000000000-1', '1700000000000-12') // < 0
   */
  compare (a: string, b: string): number {
    const [aTime, aSeq] = parts(a)
    const [bTime, bSeq] = parts(b)
    return compareDigits(aTime, bTime) || compareDigits(aSeq, bSeq)
  }

  /**
   * Stops the read loop and closes both connections; publishes still
   * pending reject with `FST_ERR_REGISTRY_BACKPLANE`. The streams stay in
   * Redis for the other nodes.
   * @example await backplane.close()
   */
  close (): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close (): Promise<void> {
    this.#closed = true
    this.#channels.clear()
    this.#ephemeral.clear()
    this.#abandonRead?.()
    this.#idle?.()
    for (const end of [...this.#pauses]) end()
    // Ends the blocked XREAD (and any reconnection) at once: it only reads.
    const reader = shut(this.#reader)
    const subscriber = this.#subscriber === undefined ? undefined : shut(this.#subscriber)
    await this.#loop
    if (this.#writer.status === 'ready') {
      // QUIT is answered after the commands sent before it: pending publishes complete.
      try {
        await this.#writer.del(this.#wakeKey)
        await this.#writer.quit()
      } catch {}
    }
    await Promise.all([reader, subscriber, shut(this.#writer)])
    const closed = new FST_ERR_REGISTRY_BACKPLANE('command', 'the backplane closed')
    for (const reject of [...this.#pending]) reject(closed)
  }

  #key (channel: string): string {
    return this.prefix + channel
  }

  /** The id of the stream's last entry, or '0-0' for an empty stream. */
  async #lastId (key: string): Promise<string> {
    const last = await this.#writer.xrevrange(key, '+', '-', 'COUNT', 1)
    return last[0]?.[0] ?? '0-0'
  }

  /** Runs a command of the writer: coded errors, and no wait past close(). */
  async #command<T> (what: string, run: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new FST_ERR_REGISTRY_BACKPLANE(what, 'the backplane is closed')
    let abandon: (error: Error) => void = () => {}
    const abandoned = new Promise<never>((_resolve, reject) => { abandon = reject })
    this.#pending.add(abandon)
    let running: Promise<T>
    try {
      running = run()
    } catch (error) {
      running = Promise.reject(error)
    }
    try {
      return await Promise.race([running, abandoned])
    } catch (error) {
      if ((error as { code?: string }).code === 'FST_ERR_REGISTRY_BACKPLANE') throw error
      throw new FST_ERR_REGISTRY_BACKPLANE(what, (error as Error).message, { cause: error })
    } finally {
      this.#pending.delete(abandon)
      // A command abandoned at close may still settle later.
      running.catch(() => {})
    }
  }

  /** The read loop: one XREAD BLOCK over every channel, resumed from the last entry of each. */
  async #run (): Promise<void> {
    let failures = 0
    while (!this.#closed) {
      if (this.#channels.size === 0) {
        await new Promise<void>((resolve) => { this.#idle = resolve })
        this.#idle = undefined
        continue
      }
      const keys = [...this.#channels.keys()]
      const cursors = keys.map((key) => (this.#channels.get(key) as Channel).cursor)
      let reply: StreamsReply
      this.#reading = true
      try {
        const reading = this.#reader.xread('COUNT', READ_COUNT, 'BLOCK', this.blockMs, 'STREAMS', this.#wakeKey, ...keys, this.#wakeCursor, ...cursors) as Promise<StreamsReply>
        reply = await new Promise<StreamsReply>((resolve, reject) => {
          this.#abandonRead = () => { resolve(null) }
          reading.then(resolve, reject)
        })
        if (this.#reconnected && !this.#closed) await this.#check(keys, cursors)
        failures = 0
      } catch (error) {
        if (this.#closed) break
        this.#report(error as Error)
        await this.#pause(backoff(failures++))
        continue
      } finally {
        this.#reading = false
        this.#abandonRead = undefined
      }
      if (reply !== null && !this.#closed) this.#dispatch(reply)
    }
  }

  /**
   * After a reconnection, before the entries read are delivered: the
   * listeners of a stream that no longer holds the last entry read are told
   * that events may be missing. A check that fails is made again (the entries
   * are read again too).
   */
  async #check (keys: string[], cursors: string[]): Promise<void> {
    this.#reconnected = false
    const pipeline = this.#reader.pipeline()
    for (const [index, key] of keys.entries()) pipeline.xrange(key, cursors[index] as string, cursors[index] as string)
    const replies = await pipeline.exec()
    const error = replies?.find(([failed]) => failed !== null)?.[0]
    if (replies === null || error !== undefined) {
      this.#reconnected = true
      throw error ?? new Error('the check was aborted')
    }
    for (const [index, [, entries]] of replies.entries()) {
      // A channel that had no entry yet has nothing to lose from before.
      if (cursors[index] === '0-0' || (entries as StreamEntry[]).length > 0) continue
      for (const listening of [...(this.#channels.get(keys[index] as string)?.listeners ?? [])]) {
        try {
          listening.onLost?.()
        } catch (error) {
          this.#report(error as Error)
        }
      }
    }
  }

  #dispatch (reply: NonNullable<StreamsReply>): void {
    for (const [key, entries] of reply) {
      if (key === this.#wakeKey) {
        const last = entries[entries.length - 1]
        if (last !== undefined) this.#wakeCursor = last[0]
        continue
      }
      const channel = this.#channels.get(key)
      if (channel === undefined) continue
      for (const [id, fields] of entries) {
        // A channel subscribed again while this XREAD ran starts later than it read.
        if (this.compare(id, channel.cursor) <= 0) continue
        channel.cursor = id
        const event = toEvent(id, fields, this.#node)
        if (event === undefined) continue
        for (const listening of [...channel.listeners]) {
          if (this.compare(id, listening.from) <= 0) continue
          try {
            listening.listener(event)
          } catch (error) {
            this.#report(error as Error)
          }
        }
      }
    }
  }

  /** Makes the loop re-issue its XREAD with the current channels. */
  #interrupt (): void {
    if (this.#idle !== undefined) {
      this.#idle()
      return
    }
    if (!this.#reading || this.#closed) return
    // An entry after the wake cursor ends the XREAD, even one written before it reached Redis.
    this.#writer.multi()
      .xadd(this.#wakeKey, 'MAXLEN', '1', '*', 'wake', '1')
      .pexpire(this.#wakeKey, WAKE_TTL_MS)
      .exec()
      .catch(() => {})
  }

  #pause (ms: number): Promise<void> {
    return new Promise((resolve) => {
      const end = (): void => {
        clearTimeout(timer)
        this.#pauses.delete(end)
        resolve()
      }
      const timer = setTimeout(end, ms)
      this.#pauses.add(end)
    })
  }

  readonly #report = (error: Error): void => {
    if (this.#onError === undefined) return
    try {
      this.#onError(error)
    } catch {}
  }
}

function connect (redis: RedisOptions | string | undefined, overrides: RedisOptions): Redis {
  // disconnectTimeout: ioredis destroys the socket of a disconnect() after it;
  // as this backplane only disconnects when it is done, at once.
  const options: RedisOptions = { connectionName: 'fastify-datastar', disconnectTimeout: 0, ...overrides }
  if (typeof redis === 'string') return new Redis(redis, options)
  return new Redis({ ...options, ...redis, ...overrides, keyPrefix: undefined })
}

/** How long to wait before retrying after `failures` failures in a row, in ms. */
function backoff (failures: number): number {
  return Math.min(2000, 50 * 2 ** failures)
}

/** Disconnects and resolves once the connection has ended, with no socket or timer of it left. */
async function shut (redis: Redis): Promise<void> {
  if (redis.status === 'end') return
  // A connection waiting to reconnect has no socket: disconnect() only cancels the reconnection.
  const ended = redis.status === 'reconnecting' ? undefined : new Promise((resolve) => redis.once('end', resolve))
  redis.disconnect()
  await ended
  // ioredis' disconnect timer (disconnectTimeout, 0 here) fires before this one.
  await new Promise((resolve) => setTimeout(resolve, 1))
}

/** An entry as an event; `node` keeps the `origin` of this node's own publishes only. */
function toEvent (id: string, fields: string[], node: string | undefined): BackplaneEvent | undefined {
  let payload: string | undefined
  let key: string | undefined
  let origin: string | undefined
  let filtered = false
  for (let index = 0; index + 1 < fields.length; index += 2) {
    const value = fields[index + 1] as string
    switch (fields[index]) {
      case 'payload': payload = value; break
      case 'key': key = value; break
      case 'origin': origin = value; break
      case 'filtered': filtered = true; break
    }
  }
  // Not written by a backplane: skipped.
  if (payload === undefined) return undefined
  const event: BackplaneEvent = { id, payload }
  if (key !== undefined) event.key = key
  if (filtered) event.filtered = true
  if (node !== undefined && origin?.startsWith(node + ':') === true) event.origin = origin.slice(node.length + 1)
  return event
}

/** The smallest id after `id`, for an exclusive XRANGE start that Redis < 6.2 understands too. */
function successor (id: string): string {
  const [time, sequence] = parts(id)
  const next = BigInt(sequence) + 1n
  return next > MAX_SEQUENCE ? `${BigInt(time) + 1n}-0` : `${time}-${next}`
}

function parts (id: string): [string, string] {
  const dash = id.indexOf('-')
  return dash === -1 ? [id, '0'] : [id.slice(0, dash), id.slice(dash + 1)]
}

// Ids are unsigned 64-bit numbers in decimal without leading zeros: the longer is greater.
function compareDigits (a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}
