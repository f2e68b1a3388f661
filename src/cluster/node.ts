/**
 * The nodes that share one backplane, as a cluster: each node has an id,
 * announces itself with heartbeats (a node not heard from for `expiry` ms is
 * gone), asks every node (or some) a question and collects their answers
 * within a deadline, naming those that did not answer, and sends messages
 * stamped with its id on channels of its own choosing. Framework-free, over
 * the backplane's ephemeral messages: with a MemoryBackplane it is a
 * cluster of one node (or of the nodes sharing that object, in one process);
 * with a RedisBackplane it spans processes and machines.
 *
 * Everything a node receives from the backplane is checked: a malformed
 * message is dropped and reported (`onError`), never thrown into the
 * backplane's read loop.
 */
import { randomUUID } from 'node:crypto'
import { FST_ERR_CLUSTER_CLOSED, FST_ERR_CLUSTER_INVALID_OPTION, FST_ERR_CLUSTER_MALFORMED_MESSAGE } from '../errors.js'
import { hasEphemeral, type Backplane, type EphemeralBackplane } from '../registry/backplane.js'

/** Options of a `ClusterNode`. */
export interface ClusterNodeOptions {
  /** The backplane the nodes share; it must carry ephemeral messages (both backplanes of this package do). */
  backplane: Backplane
  /** This node's id, unique in the cluster. Default: a random UUID. */
  id?: string
  /** Interval of this node's heartbeats, in ms. Default 2 000. */
  heartbeat?: number
  /** How long a node stays listed without being heard from, in ms. Default 3 × `heartbeat`. */
  expiry?: number
  /** The cluster's channel on the backplane (and, with `:<node id>`, each node's own). Default `'cluster'`. */
  channel?: string
  /** Receives what goes wrong: malformed messages dropped, heartbeats and answers the backplane refused, handler errors. */
  onError?: (error: Error) => void
}

/** Options of `request()`. */
export interface ClusterRequestOptions {
  /** The nodes asked. Default: every node listed now (`nodes`), this one included. */
  nodes?: readonly string[]
  /** How long to wait for answers, in ms. Default 1 000. */
  timeout?: number
}

/** What the nodes asked by `request()` answered, by node id. */
export interface ClusterAnswers<T = unknown> {
  /** The value each node that answered in time returned. */
  answers: Map<string, T>
  /** The nodes whose handler failed (or that have none for the topic), with the error's message. */
  failed: Map<string, string>
  /** The nodes asked that did not answer within the timeout (gone, cut off, or slow). */
  missing: string[]
}

/** Answers a request on a topic: its value (JSON) is the node's answer; a throw or rejection, its failure. */
export type ClusterHandler = (body: unknown, from: string) => unknown

/** Receives a stamped message from another node. */
export type ClusterListener = (payload: Buffer, from: string) => void

/** Default interval of the heartbeats, in ms. */
export const DEFAULT_CLUSTER_HEARTBEAT = 2000
/** Default deadline of a request, in ms. */
export const DEFAULT_CLUSTER_TIMEOUT = 1000
// How long close() waits for its goodbye to go out, and then for its subscriptions to end (Redis may be down), in ms.
const CLOSE_LIMIT = 500
// A stamp is one byte of length, then the sender's id.
const MAX_ID_BYTES = 255

// The messages of the cluster's own channels, as JSON.
type BusMessage =
  | { t: 'hb', ask?: true }
  | { t: 'bye' }
  | { t: 'req', r: number, k: string, b?: unknown, to?: string[] }
  | { t: 'ans', r: number, v?: unknown, e?: string }

interface PendingRequest {
  expected: Set<string>
  result: ClusterAnswers<unknown>
  timer: NodeJS.Timeout | undefined
  settle: () => void
}

/**
 * One node of a cluster on a shared backplane.
 * @example
 * const node = new ClusterNode({ backplane })
 * node.handle('load', () => process.cpuUsage().user)
 * await node.ready()
 * const { answers, missing } = await node.request('load', null, { timeout: 500 })
 */
export class ClusterNode {
  /** This node's id. */
  readonly id: string
  /** The backplane the nodes share. */
  readonly backplane: EphemeralBackplane
  /** Interval of the heartbeats, in ms. */
  readonly heartbeat: number
  /** How long a node stays listed without news, in ms. */
  readonly expiry: number
  readonly #channel: string
  readonly #ownChannel: string
  readonly #stamp: Buffer
  readonly #onError: ((error: Error) => void) | undefined
  // When each other node was last heard from (ms since the epoch).
  readonly #seen = new Map<string, number>()
  readonly #handlers = new Map<string, ClusterHandler>()
  readonly #pending = new Map<number, PendingRequest>()
  #requests = 0
  #timer: NodeJS.Timeout | undefined
  #closed = false
  #closing: Promise<void> | undefined
  readonly #started: Promise<Array<() => Promise<void>>>

  /**
   * Joins the cluster: listens to its channels, then says hello (the other
   * nodes answer with a heartbeat) and beats every `heartbeat` ms.
   * @example const node = new ClusterNode({ backplane: new RedisBackplane({ redis: process.env.REDIS_URL }) })
   */
  constructor (options: ClusterNodeOptions) {
    const { backplane, id = randomUUID(), heartbeat = DEFAULT_CLUSTER_HEARTBEAT, channel = 'cluster', onError } = options
    if (typeof backplane !== 'object' || backplane === null || !hasEphemeral(backplane)) {
      throw new FST_ERR_CLUSTER_INVALID_OPTION('backplane', 'expected a backplane with publishEphemeral() and subscribeEphemeral()')
    }
    if (typeof id !== 'string' || id === '' || Buffer.byteLength(id) > MAX_ID_BYTES) {
      throw new FST_ERR_CLUSTER_INVALID_OPTION('id', `expected a string of 1 to ${MAX_ID_BYTES} bytes`)
    }
    if (!Number.isSafeInteger(heartbeat) || heartbeat < 1) {
      throw new FST_ERR_CLUSTER_INVALID_OPTION('heartbeat', `expected a number of milliseconds >= 1, got ${String(heartbeat)}`)
    }
    const expiry = options.expiry ?? 3 * heartbeat
    if (!Number.isSafeInteger(expiry) || expiry <= heartbeat) {
      throw new FST_ERR_CLUSTER_INVALID_OPTION('expiry', `expected a number of milliseconds above heartbeat (${heartbeat}), got ${String(expiry)}`)
    }
    if (typeof channel !== 'string' || channel === '') throw new FST_ERR_CLUSTER_INVALID_OPTION('channel', 'expected a non-empty string')
    if (onError !== undefined && typeof onError !== 'function') throw new FST_ERR_CLUSTER_INVALID_OPTION('onError', 'expected a function')
    this.id = id
    this.backplane = backplane
    this.heartbeat = heartbeat
    this.expiry = expiry
    this.#channel = channel
    this.#ownChannel = `${channel}:${id}`
    this.#stamp = stampOf(id)
    this.#onError = onError
    this.#started = this.#start()
    // ready() hands the failure to whoever waits; close() sees it again.
    this.#started.catch((error: Error) => { this.#report(error) })
  }

  async #start (): Promise<Array<() => Promise<void>>> {
    const stops = await Promise.all([
      this.subscribe(this.#channel, this.#busListener(this.#channel)),
      this.subscribe(this.#ownChannel, this.#busListener(this.#ownChannel))
    ])
    if (this.#closed) {
      await Promise.all(stops.map((stop) => stop()))
      throw new FST_ERR_CLUSTER_CLOSED(this.id)
    }
    this.#timer = setInterval(this.#beat, this.heartbeat)
    this.#timer.unref()
    await this.#send(this.#channel, { t: 'hb', ask: true })
    return stops
  }

  /**
   * Resolves once this node listens to the cluster and has said hello (the
   * other nodes are listed as their answers come in, within a round trip).
   * @example await node.ready()
   */
  async ready (): Promise<void> {
    await this.#started
  }

  /**
   * The ids of the nodes heard from within `expiry` ms, this one first.
   * @example node.nodes.length // 3
   */
  get nodes (): string[] {
    const now = Date.now()
    const live = [this.id]
    for (const [id, seen] of this.#seen) {
      if (now - seen > this.expiry) this.#seen.delete(id)
      else live.push(id)
    }
    return live
  }

  /**
   * Answers the requests on `topic` (one handler per topic); returns a function that stops answering.
   * @example const stop = node.handle('presence', (room) => localMembers(room as string))
   */
  handle (topic: string, handler: ClusterHandler): () => void {
    if (typeof handler !== 'function') throw new FST_ERR_CLUSTER_INVALID_OPTION('handler', 'expected a function')
    if (this.#handlers.has(topic)) throw new FST_ERR_CLUSTER_INVALID_OPTION('topic', `"${topic}" already has a handler`)
    this.#handlers.set(topic, handler)
    return () => { if (this.#handlers.get(topic) === handler) this.#handlers.delete(topic) }
  }

  /**
   * Asks every node listed now (or `nodes`) about `topic`, this one
   * included (answered here without the backplane), and resolves with the
   * answers once every node asked has answered, or at the deadline: the
   * nodes not heard from are `missing`. Never rejects for a node: only when
   * this node is closed.
   * @example const { answers, failed, missing } = await node.request('presence', 'bongo', { timeout: 500 })
   */
  async request<T = unknown> (topic: string, body: unknown, options: ClusterRequestOptions = {}): Promise<ClusterAnswers<T>> {
    if (this.#closed) throw new FST_ERR_CLUSTER_CLOSED(this.id)
    const timeout = options.timeout ?? DEFAULT_CLUSTER_TIMEOUT
    if (!Number.isSafeInteger(timeout) || timeout < 1) {
      throw new FST_ERR_CLUSTER_INVALID_OPTION('timeout', `expected a number of milliseconds >= 1, got ${String(timeout)}`)
    }
    if (options.nodes !== undefined && (!Array.isArray(options.nodes) || options.nodes.some((node) => typeof node !== 'string'))) {
      throw new FST_ERR_CLUSTER_INVALID_OPTION('nodes', 'expected an array of node ids')
    }
    const expected = new Set(options.nodes ?? this.nodes)
    const result: ClusterAnswers<unknown> = { answers: new Map(), failed: new Map(), missing: [] }
    const number = ++this.#requests
    const settled = new Promise<void>((resolve) => {
      const pending: PendingRequest = {
        expected,
        result,
        timer: undefined,
        settle: () => {
          clearTimeout(pending.timer)
          this.#pending.delete(number)
          result.missing = [...expected].filter((node) => !result.answers.has(node) && !result.failed.has(node))
          resolve()
        }
      }
      pending.timer = setTimeout(pending.settle, timeout)
      this.#pending.set(number, pending)
    })
    const remote = [...expected].filter((node) => node !== this.id)
    if (remote.length > 0) {
      const message: BusMessage = { t: 'req', r: number, k: topic, b: body }
      if (options.nodes !== undefined) message.to = remote
      // Not sent: the nodes asked stay missing until the deadline, as when they are cut off.
      this.#send(this.#channel, message).catch(this.#report)
    }
    if (expected.has(this.id)) {
      this.#answer(topic, body, this.id).then((answer) => { this.#record(number, this.id, answer) }, this.#report)
    }
    if (expected.size === 0) this.#pending.get(number)?.settle()
    await settled
    return result as ClusterAnswers<T>
  }

  /**
   * Sends `payload` on a channel of the backplane, stamped with this node's
   * id, to the other nodes listening to it (`subscribe()`).
   * @example await node.publish('ws:/chat/:room', Buffer.from('…'))
   */
  async publish (channel: string, payload: Buffer): Promise<void> {
    if (this.#closed) throw new FST_ERR_CLUSTER_CLOSED(this.id)
    await this.backplane.publishEphemeral(channel, Buffer.concat([this.#stamp, payload]))
  }

  /**
   * Listens to the other nodes' messages on `channel` (this node's own are
   * skipped): `listener` gets the payload and the sender's id. A message
   * without a valid stamp is dropped and reported. Resolves with a function
   * that stops listening.
   * @example const stop = await node.subscribe('ws:/chat/:room', (payload, from) => deliver(payload))
   */
  async subscribe (channel: string, listener: ClusterListener): Promise<() => Promise<void>> {
    if (this.#closed) throw new FST_ERR_CLUSTER_CLOSED(this.id)
    return await this.backplane.subscribeEphemeral(channel, (stamped) => {
      const from = senderOf(stamped)
      if (from === undefined) {
        this.#report(new FST_ERR_CLUSTER_MALFORMED_MESSAGE(channel, 'no sender stamp'))
        return
      }
      if (from === this.id) return
      this.#seen.set(from, Date.now())
      try {
        listener(stamped.subarray(1 + Buffer.byteLength(from)), from)
      } catch (error) {
        this.#report(error as Error)
      }
    })
  }

  /**
   * Leaves the cluster: says goodbye (the other nodes unlist it at once),
   * stops the heartbeat, stops listening, and settles the requests still
   * waiting (the nodes not heard from are missing). The backplane stays
   * open: it is its owner's to close.
   * @example await node.close()
   */
  close (): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close (): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    for (const pending of [...this.#pending.values()]) pending.settle()
    const stops = await this.#started.catch(() => [])
    // Bounded: a backplane that cannot reach its server must not hold the app's close.
    if (stops.length > 0) await this.#within(this.#send(this.#channel, { t: 'bye' }).catch(this.#report), CLOSE_LIMIT)
    await this.#within(Promise.all(stops.map((stop) => stop().catch(this.#report))), CLOSE_LIMIT)
    this.#handlers.clear()
    this.#seen.clear()
  }

  readonly #beat = (): void => {
    this.#send(this.#channel, { t: 'hb' }).catch(this.#report)
  }

  #send (channel: string, message: BusMessage): Promise<void> {
    return this.backplane.publishEphemeral(channel, Buffer.concat([this.#stamp, Buffer.from(JSON.stringify(message))]))
  }

  /** Receives the messages of the cluster's channel or this node's own. */
  #busListener (channel: string): ClusterListener {
    return (payload, from) => {
      const message = parseBusMessage(payload)
      if (typeof message === 'string') this.#report(new FST_ERR_CLUSTER_MALFORMED_MESSAGE(channel, message))
      else this.#receiveBus(message, from)
    }
  }

  /** A checked message of the cluster's channels, acted on. */
  #receiveBus (message: BusMessage, from: string): void {
    switch (message.t) {
      case 'hb':
        if (message.ask === true && !this.#closed) this.#send(`${this.#channel}:${from}`, { t: 'hb' }).catch(this.#report)
        break
      case 'bye':
        this.#seen.delete(from)
        break
      case 'req':
        if (message.to !== undefined && !message.to.includes(this.id)) break
        this.#answer(message.k, message.b, from).then((answer) => this.#send(`${this.#channel}:${from}`, { t: 'ans', r: message.r, ...answer })).catch(this.#report)
        break
      case 'ans':
        this.#record(message.r, from, message)
        break
    }
  }

  /** Runs the handler of `topic`: its value, or its failure's message. */
  async #answer (topic: string, body: unknown, from: string): Promise<{ v?: unknown, e?: string }> {
    const handler = this.#handlers.get(topic)
    if (handler === undefined) return { e: `no handler for "${topic}"` }
    try {
      return { v: await handler(body, from) }
    } catch (error) {
      this.#report(error as Error)
      return { e: (error as Error)?.message ?? String(error) }
    }
  }

  #record (number: number, from: string, answer: { v?: unknown, e?: string }): void {
    const pending = this.#pending.get(number)
    if (pending === undefined) return
    if (answer.e !== undefined) pending.result.failed.set(from, answer.e)
    else pending.result.answers.set(from, answer.v)
    for (const node of pending.expected) if (!pending.result.answers.has(node) && !pending.result.failed.has(node)) return
    pending.settle()
  }

  async #within (promise: Promise<unknown>, limit: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([promise, new Promise((resolve) => { timer = setTimeout(resolve, limit) })])
    clearTimeout(timer)
  }

  readonly #report = (error: Error): void => {
    if (this.#onError === undefined) return
    try {
      this.#onError(error)
    } catch {}
  }
}

function stampOf (id: string): Buffer {
  const bytes = Buffer.from(id)
  return Buffer.concat([Buffer.from([bytes.length]), bytes])
}

/** The id a stamped payload starts with, or undefined when it has none. */
function senderOf (stamped: Buffer): string | undefined {
  const length = stamped[0]
  if (length === undefined || length === 0 || stamped.length < 1 + length) return undefined
  return stamped.toString('utf8', 1, 1 + length)
}

/** A message of the cluster's channels, or what is wrong with it. */
function parseBusMessage (payload: Buffer): BusMessage | string {
  let value: unknown
  try {
    value = JSON.parse(payload.toString())
  } catch {
    return 'not JSON'
  }
  if (typeof value !== 'object' || value === null) return 'not an object'
  const message = value as Record<string, unknown>
  switch (message.t) {
    case 'hb':
    case 'bye':
      return message as BusMessage
    case 'req':
      if (!Number.isSafeInteger(message.r) || typeof message.k !== 'string') return 'a request without its number or topic'
      if (message.to !== undefined && (!Array.isArray(message.to) || message.to.some((node) => typeof node !== 'string'))) return 'a request whose "to" is not a list of ids'
      return message as BusMessage
    case 'ans':
      if (!Number.isSafeInteger(message.r)) return 'an answer without its number'
      if (message.e !== undefined && typeof message.e !== 'string') return 'an answer whose error is not a string'
      return message as BusMessage
    default:
      return `unknown type ${JSON.stringify(message.t) ?? 'undefined'}`
  }
}
