/**
 * A WebSocket client for Node (`fastify-datastar/websocket-client`): ws does
 * the framing, this adds websocket-driver's event API, a bounded send queue
 * while not connected, pings matched to their own pong, and reconnection with
 * exponential backoff and jitter after abnormal closes.
 *
 * Lifecycle, for listeners: every 'open' is followed by exactly one 'close';
 * `reconnecting: true` on that 'close' means another attempt follows (a
 * 'reconnecting' event gives its delay). Failed attempts to connect give
 * 'error' then 'reconnecting', without a 'close'. The last event of a client
 * is always a single 'close' with `reconnecting: false`.
 */
import { EventEmitter } from 'node:events'
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { ClientRequest, IncomingMessage } from 'node:http'
import WebSocket, { type ClientOptions, type RawData } from 'ws'
import { deferred } from '../deferred.js'
import { FST_ERR_WS_CLIENT_CLOSED, FST_ERR_WS_CLIENT_HANDSHAKE, FST_ERR_WS_CLIENT_NOT_OPEN, FST_ERR_WS_CLIENT_QUEUE_FULL, FST_ERR_WS_INVALID_OPTION } from '../errors.js'
import { MAX_CLOSE_REASON, closeCodeOfWsError, validateCloseCode } from '../websocket/close-codes.js'
import { encodeMessage, type EncodedMessage, type OutgoingMessage } from '../websocket/message.js'
import { RESOURCE_DEFAULTS } from '../websocket/options.js'
import { isProtocolName } from '../websocket/protocol.js'
import { backoffDelay, resolveBackoff, retryAfterDelay, shouldReconnect, validateCount, type Backoff, type ReconnectOptions } from './backoff.js'

/** Options of a {@link WebSocketClient}. */
export interface WebSocketClientOptions {
  /** Subprotocols offered, in order of preference (`Sec-WebSocket-Protocol`). */
  protocols?: string | string[]
  /** Extra headers of the opening handshake. */
  headers?: Record<string, string>
  /** The `Origin` header of the opening handshake. */
  origin?: string
  /** Reconnection after abnormal closes, on by default; `false` turns it off. */
  reconnect?: false | ReconnectOptions
  /** Messages kept while not connected; one more throws FST_ERR_WS_CLIENT_QUEUE_FULL. Default 1000. */
  maxQueued?: number
  /**
   * Largest message accepted, in bytes; a bigger one closes the connection
   * with 1009 (and no reconnection). Default 1 MiB, as the server's resources.
   */
  maxPayload?: number
  /** Passed to the ws constructor; `headers`, `origin` and `maxPayload` above take precedence. `handshakeTimeout` defaults to 10 000 ms. */
  wsOptions?: ClientOptions
}

/** A received message: text as a string, binary as a Buffer. */
export type WebSocketClientMessageEvent =
  | { data: string, binary: false }
  | { data: Buffer, binary: true }

/** A closed connection, or the client stopping for good (`reconnecting: false`). */
export interface WebSocketClientCloseEvent {
  code: number
  reason: string
  /** True when another attempt to connect follows. */
  reconnecting: boolean
}

/** An attempt to reconnect, scheduled `delay` ms from now. */
export interface WebSocketClientReconnectingEvent {
  /** 1 for the first attempt after a connection that stayed up `resetAfter` ms (or the first failure). */
  attempt: number
  delay: number
}

/** The events of a {@link WebSocketClient} and their arguments. */
export interface WebSocketClientEvents {
  open: []
  message: [event: WebSocketClientMessageEvent]
  error: [error: Error]
  close: [event: WebSocketClientCloseEvent]
  reconnecting: [event: WebSocketClientReconnectingEvent]
}

/** What `send()` accepts: a string (text), bytes (binary), anything else is sent as JSON text. */
export type WebSocketClientData = OutgoingMessage

type Frame = EncodedMessage

interface PendingPing {
  payload: Buffer
  start: number
  resolve: (roundTripMs: number) => void
  reject?: (error: Error) => void
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000
// RFC 6455 §5.5: control frame payloads, and so a close reason with its 2-byte code, fit in 125 bytes.
const MAX_PING_PAYLOAD = 125
const SCHEMES = new Set(['ws:', 'wss:', 'http:', 'https:', 'ws+unix:'])

/**
 * A WebSocket client with websocket-driver's events, a send queue and reconnection.
 * It starts connecting as soon as it is built.
 * @example
 * const client = new WebSocketClient('ws://127.0.0.1:3000/chat/bongo', { protocols: 'chat.v1' })
 * client.on('message', (event) => { if (!event.binary) render(event.data) })
 * client.send({ hello: 'world' })
 */
export class WebSocketClient extends EventEmitter<WebSocketClientEvents> {
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSING = 2
  static readonly CLOSED = 3

  readonly #url: string
  readonly #protocols: string[]
  readonly #wsOptions: ClientOptions
  readonly #backoff: Backoff | false
  readonly #maxQueued: number
  readonly #pingPrefix = randomBytes(6).toString('base64url')
  readonly #handlers: ReadonlyArray<[string, (...args: any[]) => void]>
  readonly #closed = deferred()
  #socket: WebSocket | null = null
  #opened = false
  #protocol = ''
  #queue: Frame[] = []
  #queuedBytes = 0
  #pings: PendingPing[] = []
  #pingCount = 0
  #attempt = 0
  #openedAt = 0
  #timer: NodeJS.Timeout | null = null
  #rejectedStatus: number | undefined
  // What a 429 or 503 answer's Retry-After asked to wait, in ms.
  #retryAfter: number | undefined
  // The close code of a frame ws refused from the server (1009 for one over maxPayload, 1002...).
  #refusedCode: number | undefined
  #aborting = false
  #closeRequest: { code: number, reason: string } | null = null
  #finished = false

  /**
   * Validates the options and starts connecting.
   * @example
   * const client = new WebSocketClient('wss://example.com/feed', {
   *   headers: { authorization: 'Bearer abc' },
   *   reconnect: { initialDelay: 250, maxDelay: 10_000 },
   *   maxQueued: 100
   * })
   */
  constructor (url: string | URL, options: WebSocketClientOptions = {}) {
    super()
    this.#url = validateUrl(url)
    this.#protocols = validateProtocols(options.protocols)
    this.#backoff = resolveBackoff(options.reconnect)
    this.#maxQueued = validateCount('maxQueued', options.maxQueued ?? 1000)
    this.#wsOptions = resolveWsOptions(options)
    this.#handlers = [
      ['open', this.#onOpen],
      ['message', this.#onMessage],
      ['pong', this.#onPong],
      ['error', this.#onError],
      ['close', this.#onClose],
      ['unexpected-response', this.#onUnexpectedResponse]
    ]
    this.#connect()
  }

  /**
   * 0 CONNECTING (also while waiting to reconnect), 1 OPEN, 2 CLOSING (close()
   * called, or the server is closing this connection), 3 CLOSED (for good).
   * @example if (client.readyState === WebSocketClient.OPEN) client.send('now')
   */
  get readyState (): number {
    if (this.#finished) return WebSocketClient.CLOSED
    if (this.#closeRequest !== null) return WebSocketClient.CLOSING
    if (this.#socket === null) return WebSocketClient.CONNECTING
    return Math.min(this.#socket.readyState, WebSocketClient.CLOSING)
  }

  /**
   * The subprotocol the server chose on the last open connection, '' if none.
   * @example client.on('open', () => { if (client.protocol !== 'chat.v2') client.close(4000, 'old server') })
   */
  get protocol (): string {
    return this.#protocol
  }

  /**
   * The URL given to the constructor.
   * @example new WebSocketClient(new URL('ws://127.0.0.1:3000/')).url // 'ws://127.0.0.1:3000/'
   */
  get url (): string {
    return this.#url
  }

  /**
   * Bytes not yet on the wire: what ws buffers on the open socket plus the
   * messages queued while not connected.
   * @example if (client.bufferedAmount > 1_000_000) skipFrame()
   */
  get bufferedAmount (): number {
    return (this.#socket?.bufferedAmount ?? 0) + this.#queuedBytes
  }

  /**
   * The ws instance of the current attempt, null between attempts and once
   * closed. For inspection (extensions, addresses): closing it counts as a
   * drop, and listeners added to it must not outlive it.
   * @example client.on('open', () => { compressed = 'permessage-deflate' in (client.socket?.extensions ?? {}) })
   */
  get socket (): WebSocket | null {
    return this.#socket
  }

  /**
   * Sends a message: a string as text, a Buffer, ArrayBuffer or typed array as
   * binary, anything else as JSON text. While not connected the message is
   * queued (copied) and sent, in order, when the next connection opens, after
   * the 'open' listeners have run. Delivery is at most once: what was handed
   * to a connection that drops is not sent again.
   * @returns true when written to the open socket, false when queued.
   * @throws FST_ERR_WS_CLIENT_CLOSED after close(); FST_ERR_WS_CLIENT_QUEUE_FULL
   * when `maxQueued` messages are already waiting (this one is not queued, the
   * others stay); FST_ERR_WS_INVALID_MESSAGE for a value JSON cannot encode.
   * @example
   * client.send('hello')                 // text
   * client.send(Buffer.from([1, 2, 3]))  // binary
   * client.send({ type: 'join' })        // text: {"type":"join"}
   */
  send (data: WebSocketClientData): boolean {
    if (this.#closeRequest !== null || this.#finished) throw new FST_ERR_WS_CLIENT_CLOSED()
    const frame = encodeMessage(data)
    const socket = this.#socket
    if (socket !== null && socket.readyState === WebSocket.OPEN) {
      socket.send(frame.data, { binary: frame.binary })
      return true
    }
    this.#enqueue(frame)
    return false
  }

  /**
   * Sends a ping. `callback(roundTripMs)` runs when the pong carrying the same
   * payload arrives: without a payload a unique one is made, so unsolicited or
   * unrelated pongs never fire it; pings sharing a payload are answered oldest
   * first. A ping whose connection closes first never calls back.
   * @returns false, sending nothing, when the client is not open (as websocket-driver).
   * @throws FST_ERR_WS_INVALID_OPTION for a payload over 125 bytes.
   * @example client.ping(undefined, (ms) => { latency = ms })
   */
  ping (payload?: string | Buffer, callback?: (roundTripMs: number) => void): boolean {
    return this.#ping(payload, callback)
  }

  /**
   * The promise form of ping(): resolves with the round trip in ms.
   * @throws (rejects) FST_ERR_WS_CLIENT_NOT_OPEN when not open, or when the
   * connection closes before the pong arrives.
   * @example const ms = await client.roundTrip()
   */
  roundTrip (payload?: string | Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      if (!this.#ping(payload, resolve, reject)) reject(new FST_ERR_WS_CLIENT_NOT_OPEN())
    })
  }

  /**
   * Closes for good: no reconnection after this, timers cleared, queued
   * messages dropped. An open connection is closed with `code` and `reason`
   * (the 'close' event reports what the server answered); otherwise the attempt
   * under way is aborted and 'close' reports `code` and `reason` as given.
   * Calling it again returns the same promise.
   * @returns a promise resolved once the final 'close' has been emitted.
   * @throws FST_ERR_WS_INVALID_OPTION for a code ws may not send (valid:
   * 1000-1003, 1007-1014, 3000-4999) or a reason over 123 bytes.
   * @example await client.close(1000, 'bye')
   */
  close (code = 1000, reason = ''): Promise<void> {
    validateClose(code, reason)
    if (this.#closeRequest !== null || this.#finished) return this.#closed.promise
    this.#closeRequest = { code, reason }
    this.#clearTimer()
    this.#dropQueue()
    this.#failPings()
    const socket = this.#socket
    if (socket === null) {
      // Nothing on the wire: finish on the next tick, so no event fires inside this call.
      process.nextTick(() => { this.#finish(code, reason) })
    } else if (socket.readyState === WebSocket.OPEN) {
      socket.close(code, reason)
    } else if (socket.readyState === WebSocket.CONNECTING) {
      // ws reports its own abort as an error: not one to pass on.
      this.#aborting = true
      socket.terminate()
    }
    // Else the server is already closing this connection: its 'close' finishes the client.
    return this.#closed.promise
  }

  #connect (): void {
    this.#opened = false
    this.#rejectedStatus = undefined
    this.#retryAfter = undefined
    this.#refusedCode = undefined
    const socket = new WebSocket(this.#url, this.#protocols, this.#wsOptions)
    socket.binaryType = 'nodebuffer'
    for (const [event, handler] of this.#handlers) socket.on(event, handler)
    this.#socket = socket
  }

  readonly #onOpen = (): void => {
    this.#opened = true
    // The backoff starts over only once this connection has stayed up (see #onClose).
    this.#openedAt = performance.now()
    this.#protocol = this.#socket?.protocol ?? ''
    // 'open' listeners go first (to authenticate or resubscribe), then the queue.
    try {
      this.emit('open')
    } finally {
      this.#flush()
    }
  }

  readonly #onMessage = (data: RawData, isBinary: boolean): void => {
    // binaryType is 'nodebuffer': a Buffer for both kinds.
    const buffer = data as Buffer
    this.emit('message', isBinary ? { data: buffer, binary: true } : { data: buffer.toString('utf8'), binary: false })
  }

  readonly #onPong = (data: Buffer): void => {
    const index = this.#pings.findIndex((ping) => ping.payload.equals(data))
    if (index === -1) return
    const [ping] = this.#pings.splice(index, 1) as [PendingPing]
    ping.resolve(performance.now() - ping.start)
  }

  readonly #onUnexpectedResponse = (_request: ClientRequest, response: IncomingMessage): void => {
    // Listening here takes over ws's default, so the handshake is aborted by hand.
    this.#rejectedStatus = response.statusCode
    if (response.statusCode === 429 || response.statusCode === 503) {
      const header = response.headers['retry-after']
      this.#retryAfter = retryAfterDelay(Array.isArray(header) ? header[0] : header, Date.now())
    }
    this.#socket?.terminate()
  }

  readonly #onError = (error: Error & { code?: string }): void => {
    if (this.#aborting) return
    // ws refused what the server sent and closed with this code; it then sees no close frame back (1006), which would mean "retry".
    if (typeof error.code === 'string' && error.code.startsWith('WS_ERR_')) this.#refusedCode = closeCodeOfWsError(error)
    if (this.#rejectedStatus !== undefined) {
      // The abort above replaced ws's own error: give the one ws would have given.
      error = Object.assign(new FST_ERR_WS_CLIENT_HANDSHAKE(this.#rejectedStatus), { statusCode: this.#rejectedStatus })
    }
    // As in a browser, 'close' always follows an error, so no listener is no crash.
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }

  readonly #onClose = (closeCode: number, reasonBuffer: Buffer): void => {
    const code = this.#refusedCode ?? closeCode
    const socket = this.#socket as WebSocket
    for (const [event, handler] of this.#handlers) socket.off(event, handler)
    this.#socket = null
    this.#aborting = false
    this.#failPings()
    const reason = reasonBuffer.toString('utf8')
    const request = this.#closeRequest
    if (request !== null) {
      if (this.#opened) this.#finish(code, reason)
      else this.#finish(request.code, request.reason)
      return
    }
    if (this.#opened && this.#backoff !== false && performance.now() - this.#openedAt >= this.#backoff.resetAfter) this.#attempt = 0
    const delay = shouldReconnect(this.#backoff, this.#opened, code, this.#rejectedStatus) ? this.#scheduleReconnect() : undefined
    if (delay === undefined) {
      this.#finish(code, reason)
      return
    }
    if (this.#opened) this.emit('close', { code, reason, reconnecting: true })
    // A 'close' listener may have called close(): then there is no attempt to announce.
    if (this.#closeRequest === null) this.emit('reconnecting', { attempt: this.#attempt, delay })
  }

  /** Schedules the next attempt and returns its delay, or undefined once the retries are spent. */
  #scheduleReconnect (): number | undefined {
    const backoff = this.#backoff as Backoff
    if (this.#attempt >= backoff.maxRetries) return undefined
    this.#attempt += 1
    // A server that said how long to wait (429, 503) is not asked sooner.
    const delay = Math.max(backoffDelay(backoff, this.#attempt), this.#retryAfter ?? 0)
    this.#timer = setTimeout(this.#reconnect, delay)
    return delay
  }

  readonly #reconnect = (): void => {
    this.#timer = null
    this.#connect()
  }

  #finish (code: number, reason: string): void {
    if (this.#finished) return
    this.#finished = true
    this.#clearTimer()
    this.#dropQueue()
    this.#failPings()
    this.emit('close', { code, reason, reconnecting: false })
    this.#closed.resolve()
  }

  #enqueue (frame: Frame): void {
    if (this.#queue.length >= this.#maxQueued) throw new FST_ERR_WS_CLIENT_QUEUE_FULL(this.#maxQueued)
    // A queued Buffer is copied: the caller may reuse its own before the flush.
    const data = typeof frame.data === 'string' ? frame.data : Buffer.from(frame.data)
    this.#queue.push({ data, binary: frame.binary })
    this.#queuedBytes += Buffer.byteLength(data)
  }

  #flush (): void {
    const socket = this.#socket
    if (socket === null || socket.readyState !== WebSocket.OPEN) return
    const queue = this.#queue
    this.#dropQueue()
    for (const frame of queue) socket.send(frame.data, { binary: frame.binary })
  }

  #dropQueue (): void {
    this.#queue = []
    this.#queuedBytes = 0
  }

  #ping (payload: string | Buffer | undefined, resolve?: (roundTripMs: number) => void, reject?: (error: Error) => void): boolean {
    const socket = this.#socket
    if (this.#closeRequest !== null || socket === null || socket.readyState !== WebSocket.OPEN) return false
    const bytes = payload === undefined ? this.#uniquePayload() : Buffer.from(payload)
    if (bytes.length > MAX_PING_PAYLOAD) throw new FST_ERR_WS_INVALID_OPTION('ping payload', `at most ${MAX_PING_PAYLOAD} bytes, got ${bytes.length}`)
    if (resolve !== undefined) this.#pings.push({ payload: bytes, start: performance.now(), resolve, reject })
    socket.ping(bytes)
    return true
  }

  #uniquePayload (): Buffer {
    this.#pingCount += 1
    return Buffer.from(`${this.#pingPrefix}:${this.#pingCount}`)
  }

  #failPings (): void {
    const pings = this.#pings
    this.#pings = []
    for (const ping of pings) ping.reject?.(new FST_ERR_WS_CLIENT_NOT_OPEN())
  }

  #clearTimer (): void {
    if (this.#timer === null) return
    clearTimeout(this.#timer)
    this.#timer = null
  }
}

function validateUrl (url: string | URL): string {
  const href = String(url)
  let parsed: URL
  try {
    parsed = new URL(href)
  } catch {
    throw new FST_ERR_WS_INVALID_OPTION('url', `not a URL: ${href}`)
  }
  if (!SCHEMES.has(parsed.protocol)) throw new FST_ERR_WS_INVALID_OPTION('url', `the scheme must be ws: or wss:, got ${parsed.protocol}`)
  if (parsed.hash !== '') throw new FST_ERR_WS_INVALID_OPTION('url', 'a WebSocket URL has no fragment')
  return href
}

function validateProtocols (protocols: string | string[] | undefined): string[] {
  const list = protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : protocols
  for (const protocol of list) {
    if (!isProtocolName(protocol)) throw new FST_ERR_WS_INVALID_OPTION('protocols', `not a token: ${String(protocol)}`)
  }
  if (new Set(list).size !== list.length) throw new FST_ERR_WS_INVALID_OPTION('protocols', 'a subprotocol is offered twice')
  return [...list]
}

function resolveWsOptions (options: WebSocketClientOptions): ClientOptions {
  const wsOptions: ClientOptions = { handshakeTimeout: DEFAULT_HANDSHAKE_TIMEOUT, maxPayload: RESOURCE_DEFAULTS.maxPayload, ...options.wsOptions }
  if (options.maxPayload !== undefined) {
    if (!Number.isSafeInteger(options.maxPayload) || options.maxPayload <= 0) {
      throw new FST_ERR_WS_INVALID_OPTION('maxPayload', `expected a positive integer of bytes, got ${String(options.maxPayload)}`)
    }
    wsOptions.maxPayload = options.maxPayload
  }
  if (options.headers !== undefined) wsOptions.headers = { ...wsOptions.headers, ...options.headers }
  if (options.origin !== undefined) wsOptions.origin = options.origin
  return wsOptions
}

function validateClose (code: unknown, reason: unknown): void {
  validateCloseCode(code)
  if (typeof reason !== 'string' || Buffer.byteLength(reason) > MAX_CLOSE_REASON) {
    throw new FST_ERR_WS_INVALID_OPTION('close reason', `expected a string of at most ${MAX_CLOSE_REASON} bytes`)
  }
}
