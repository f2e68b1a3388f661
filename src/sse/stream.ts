/**
 * The SSE stream over one HTTP response: ordered writes that respect the
 * socket's backpressure, keep-alive, and close detection from the response
 * (never from the request, whose `close` fires once a POST body is read).
 */
import type { OutgoingHttpHeaders } from 'node:http'
import { FST_ERR_SSE_OVERFLOW, FST_ERR_SSE_STALLED } from '../errors.js'
import { corkUntilNextTick, currentTurn, directSocket, frameChunk, type ResponseSocket, type SharedEvent } from './chunk.js'
import { FrameCompressor, type Encoding, type FrameSink, type StreamCompression } from './compression.js'
import { encodeComment, encodeEvent, type SSEMessage } from './format.js'
import { deferred, type Deferred } from '../deferred.js'
import { addHeartbeat, deleteHeartbeat } from '../heartbeat.js'
import { StallClock, type SlowConsumerLimits } from '../slow-consumer.js'
import { STREAM_DEFAULTS, streamLimits, type StreamSettings, validateKeepAlive } from './options.js'
import { kHeartbeat, kStream } from '../symbols.js'
import { sseClose, sseOpen } from '../diagnostics.js'

// For fan-out loops of their own: stream.writeShared(new SharedEvent(bytes)) frames once for every stream.
export { SharedEvent } from './chunk.js'

/**
 * The response an SSE stream writes to: what Node's HTTP/1 `ServerResponse`
 * and HTTP/2 compatibility `Http2ServerResponse` have in common.
 */
export interface SSEResponse {
  readonly destroyed: boolean
  readonly writableEnded: boolean
  readonly writableLength?: number
  readonly writableNeedDrain?: boolean
  writeHead (statusCode: number, headers: OutgoingHttpHeaders): unknown
  flushHeaders? (): void
  write (chunk: string | Buffer): boolean
  end (chunk?: string | Buffer): unknown
  destroy? (): unknown
  on (event: 'close' | 'drain', listener: (this: SSEResponse) => void): unknown
  on (event: 'error', listener: (this: SSEResponse, error: Error) => void): unknown
  once (event: 'drain', listener: () => void): unknown
  removeListener (event: 'close' | 'drain', listener: (this: SSEResponse) => void): unknown
  removeListener (event: 'error', listener: (this: SSEResponse, error: Error) => void): unknown
}

/** Status and headers of the stream's response, computed when the head is written. */
export interface SSEHead {
  statusCode: number
  headers: OutgoingHttpHeaders
}

/**
 * Who ended a stream: the client, the server, or the slow-consumer policy
 * (`overflow`: past the hard bound; `stall`: above the soft bound for the stall time).
 */
export type SSECloseReason = 'client' | 'server' | 'overflow' | 'stall'

/** Options of one stream: its settings (compression already negotiated) and hooks. */
export interface SSEStreamOptions extends Omit<StreamSettings, 'compression'> {
  /** The request's `Last-Event-ID`, exposed as `stream.lastEventId`. */
  lastEventId?: string
  /** Runs once when the head has been written (datastar-cl's `:on-connect`). */
  onConnect?: (stream: SSEStream) => void
  /** Runs once when the stream ends, whoever ended it (datastar-cl's `:on-disconnect`). */
  onDisconnect?: (stream: SSEStream) => void
  /** Receives errors thrown by hooks, socket and compression errors; by default they are dropped. */
  onError?: (error: Error) => void
  /** Compress with this negotiated encoding (the head must say so: `Content-Encoding`). */
  compression?: StreamCompression
}

// Input waiting in a compressor beyond which events queue (bounded) instead.
const COMPRESSOR_HIGH_WATER = 64 * 1024

const HEARTBEAT = encodeComment()
const WRITTEN: Promise<boolean> = Promise.resolve(true)
const DROPPED: Promise<boolean> = Promise.resolve(false)

const PENDING = 0
const OPEN = 1
// Closed for writers, while a compressed stream's last frames are still produced.
const CLOSING = 2
const CLOSED = 3

/**
 * The response headers of an event stream. `Connection` is HTTP/1-only
 * (HTTP/2 forbids it); `X-Accel-Buffering: no` stops nginx from buffering events.
 * @example sseHeaders(1)['content-type'] // 'text/event-stream'
 */
export function sseHeaders (httpVersionMajor: number): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no'
  }
  if (httpVersionMajor === 1) headers.connection = 'keep-alive'
  return headers
}

/**
 * A server-sent event stream.
 *
 * Writes are ordered. When the socket asks to wait (`write()` returned false),
 * later events queue in order and go out in one write on `drain`; the promise
 * each write returns settles when its bytes are handed to the socket, or at
 * once with `false` when the stream is closed. Writes never reject.
 *
 * @example
 * const stream = new SSEStream(res, () => ({ statusCode: 200, headers: sseHeaders(1) }))
 * stream.open()
 * await stream.send({ event: 'tick', data: '1' })
 * stream.close()
 */
export class SSEStream {
  /** The request's `Last-Event-ID`, or undefined. */
  readonly lastEventId: string | undefined
  /** Who ended the stream, once it has ended. */
  closeReason: SSECloseReason | undefined

  readonly #res: SSEResponse
  // Dropped once used: it holds the request's context, which a long-lived stream need not keep.
  #head: (() => SSEHead) | null
  readonly #keepAlive: number | false
  readonly #onError: ((error: Error) => void) | undefined
  #onConnect: ((stream: SSEStream) => void) | undefined
  #onDisconnect: ((stream: SSEStream) => void) | undefined
  #state: number = PENDING
  #queue: Array<string | Buffer> | null = null
  #queuedBytes = 0
  readonly #limits: SlowConsumerLimits
  // Made on first wait: most streams never have unsent bytes to time.
  #clock: StallClock | null = null
  #drain: Deferred<boolean> | null = null
  #closed: Deferred<void> | null = null
  #abort: AbortController | null = null
  #closeHandlers: Array<(stream: SSEStream) => void> = []
  #onDrain: (() => void) | null = null
  // The socket whose 'drain' ends the current wait, when a direct write was refused.
  #drainSocket: ResponseSocket | null = null
  // The event-loop turn of the last direct write: a second one in the same turn corks (see currentTurn).
  #directTurn = -1
  readonly #compression: StreamCompression | undefined
  #compressor: FrameCompressor | null = null

  /**
   * @param res the response to write to
   * @param head computes status and headers when the head is written (lazily, so
   *   a stream can still be abandoned for a normal error response before that)
   * @param options keep-alive, hooks and the request's Last-Event-ID
   */
  constructor (res: SSEResponse, head: () => SSEHead, options: SSEStreamOptions = {}) {
    this.#res = res
    this.#head = head
    this.#keepAlive = options.keepAlive === undefined ? STREAM_DEFAULTS.keepAlive : validateKeepAlive(options.keepAlive)
    this.#onError = options.onError
    this.#onConnect = options.onConnect
    this.lastEventId = options.lastEventId
    this.#compression = options.compression
    this.#limits = streamLimits(options)
    this.#onDisconnect = options.onDisconnect
    ;(res as unknown as Record<symbol, SSEStream>)[kStream] = this
    res.on('close', SSEStream.#onResponseClose)
    res.on('error', SSEStream.#onResponseError)
  }

  /** The content coding of the stream (datastar-cl's `compression-algorithm`). */
  get encoding (): Encoding | 'identity' {
    return this.#compression?.encoding ?? 'identity'
  }

  /** True once the head has been written and until the stream ends. */
  get isOpen (): boolean {
    return this.#state === OPEN
  }

  /** True once the stream has ended, by `close()` or by the client going away. */
  get isClosed (): boolean {
    return this.#state === CLOSED
  }

  /** Settles once, when the client goes away or the stream is closed. */
  get closed (): Promise<void> {
    if (this.#closed === null) {
      this.#closed = deferred<void>()
      if (this.#state === CLOSED) this.#closed.resolve()
    }
    return this.#closed.promise
  }

  /** Aborted when the stream ends: pass it to fetch, timers or database calls. */
  get signal (): AbortSignal {
    if (this.#abort === null) {
      this.#abort = new AbortController()
      if (this.#state === CLOSED) this.#abort.abort()
    }
    return this.#abort.signal
  }

  /** Bytes written but not yet sent: those the response buffers plus those queued here while it asks to wait. */
  get bufferedAmount (): number {
    return (this.#res.writableLength ?? 0) + (this.#compressor?.pendingBytes ?? 0) + this.#queuedBytes
  }

  /**
   * Resolves once the events queued in the stream (while its socket asked to
   * wait) have been handed to the socket: true, or false if the stream closed
   * first. At once when nothing is queued. Backpressure for a writer that
   * wants to go at its reader's pace without awaiting each write.
   * @example for (const row of rows) { stream.send({ data: row }); await stream.drained() }
   */
  drained (): Promise<boolean> {
    if (this.#drain !== null) return this.#drain.promise
    return this.#state === CLOSED ? DROPPED : WRITTEN
  }

  /**
   * Writes the head (status and headers) now, so the client sees the response
   * start before any event. Idempotent; writes happen on first use otherwise.
   */
  open (): void {
    if (this.#state !== PENDING) return
    const res = this.#res
    if (res.destroyed || res.writableEnded) {
      this.#finish('client')
      return
    }
    try {
      // The compressor first: if it cannot start, nothing has been sent yet.
      if (this.#compression !== undefined) this.#compressor = new FrameCompressor(this.#compression, this.#frameSink())
      const head = this.#head as () => SSEHead
      this.#head = null
      const { statusCode, headers } = head()
      res.writeHead(statusCode, headers)
    } catch (error) {
      // Nothing went out (bad header value...): the response is still free for an error response.
      this.#finish('server')
      throw error
    }
    // Send the head now: the client sees the response start before any event.
    res.flushHeaders?.()
    this.#state = OPEN
    if (sseOpen.hasSubscribers) sseOpen.publish({ stream: this })
    if (this.#keepAlive !== false) addHeartbeat(this.#keepAlive, this)
    // onDisconnect pairs with onConnect: it runs only for a stream that connected.
    if (this.#onDisconnect !== undefined) this.#closeHandlers.push(this.#onDisconnect)
    const onConnect = this.#onConnect
    this.#onConnect = undefined
    if (onConnect !== undefined) this.#runHook(onConnect)
  }

  /**
   * Sends one event. Throws a coded error, writing nothing, if `event` or `id`
   * holds CR or LF. Resolves true once written, false if the stream is closed.
   * @example await stream.send({ event: 'update', data: ['line 1', 'line 2'], id: '42' })
   */
  send (message: SSEMessage): Promise<boolean> {
    return this.write(encodeEvent(message))
  }

  /**
   * Sends a comment line, which clients ignore.
   * @example stream.comment('still here')
   */
  comment (text?: string): Promise<boolean> {
    return this.write(encodeComment(text))
  }

  /**
   * Writes text already encoded by `encodeEvent` (so one encoding can be shared
   * by many streams). The text is written as-is.
   */
  write (encoded: string | Buffer): Promise<boolean> {
    return this.#write(encoded, null)
  }

  /**
   * Writes an event shared by many streams (a registry broadcast): on a plain
   * HTTP/1.1 response its chunk, framed once for all of them, goes straight to
   * the socket; otherwise it is `write(event.bytes)`.
   */
  writeShared (event: SharedEvent): Promise<boolean> {
    return this.#write(event.bytes, event)
  }

  #write (encoded: string | Buffer, shared: SharedEvent | null): Promise<boolean> {
    if (this.#state !== OPEN && !this.#ensureOpen()) return DROPPED
    // While the socket asks to wait, events queue here, before any compression, bounded.
    if (this.#queue !== null) return this.#enqueue(encoded)
    const compressor = this.#compressor
    if (compressor !== null) {
      // Input the compressor has not turned into sent frames counts as buffered too:
      // past a high-water mark, events wait here instead, bounded and droppable.
      if (compressor.pendingBytes < COMPRESSOR_HIGH_WATER && this.#res.writableNeedDrain !== true) return compressor.write(encoded)
      this.#waitForDrain()
      return this.#enqueue(encoded)
    }
    const socket = directSocket(this.#res)
    if (socket !== null) {
      // Nothing to send (an empty chunk would end the body).
      if (encoded.length === 0) return WRITTEN
      const turn = currentTurn()
      // A burst: from its second write on, the socket is corked until the next tick (later ones take res.write()).
      if (turn === this.#directTurn) corkUntilNextTick(socket)
      this.#directTurn = turn
      // The bytes res.write() would send, in one socket write, behind everything written before.
      if (socket.write(shared === null ? frameChunk(encoded) : shared.chunk)) return WRITTEN
      this.#drainSocket = socket
      return this.#waitForDrain()
    }
    if (this.#res.write(encoded)) return WRITTEN
    return this.#waitForDrain()
  }

  // Queues behind what the socket has not taken yet: past the hard bound the overflow policy applies at once,
  // above the soft bound the stall clock runs (see slow-consumer.ts).
  #enqueue (chunk: string | Buffer): Promise<boolean> {
    const size = Buffer.byteLength(chunk)
    const hard = this.#limits.hardMaxBufferedBytes
    if (this.#clockFor().check(this.bufferedAmount + size)) {
      if (this.#limits.overflow === 'close') {
        this.#giveUp('overflow', new FST_ERR_SSE_OVERFLOW(hard))
        return DROPPED
      }
      this.#dropOldest(hard - size, 0)
    }
    ;(this.#queue as Array<string | Buffer>).push(chunk)
    this.#queuedBytes += size
    return (this.#drain as Deferred<boolean>).promise
  }

  #clockFor (): StallClock {
    return (this.#clock ??= new StallClock(this.#limits, () => { this.#stalled() }))
  }

  // Above the soft bound for the whole stall time: the client is not reading.
  #stalled (): void {
    if (this.#state !== OPEN) return
    if (this.#limits.overflow === 'close') {
      this.#giveUp('stall', new FST_ERR_SSE_STALLED(this.#limits.maxBufferedBytes, this.#limits.stallTimeout))
      return
    }
    this.#dropOldest(this.#limits.maxBufferedBytes, 1)
    // What the socket holds cannot be taken back: the clock runs again while it stays above the bound.
    this.#clockFor().check(this.bufferedAmount)
  }

  // drop-oldest: whole queued events go, oldest first, until the unsent bytes fit `bound` or only `keep` are left.
  #dropOldest (bound: number, keep: number): void {
    const queue = this.#queue
    if (queue === null) return
    const unqueued = this.bufferedAmount - this.#queuedBytes
    while (queue.length > keep && unqueued + this.#queuedBytes > bound) {
      this.#queuedBytes -= Buffer.byteLength(queue.shift() as string | Buffer)
    }
  }

  // A slow client is let go, so it costs no more than its bounds.
  #giveUp (reason: 'overflow' | 'stall', error: Error): void {
    this.#reportError(error)
    this.#finish(reason)
    this.#res.destroy?.()
  }

  /** Keep-alive tick: skipped while events are queued, which already prove life. */
  [kHeartbeat] (): void {
    // The write's promise never rejects: nothing to wait for or catch.
    if (this.#state === OPEN && this.#queue === null) this.write(HEARTBEAT)
  }

  /**
   * Registers a function to run once when the stream ends (at once, on a
   * microtask, if it already has).
   * @example stream.onClose(() => clearInterval(timer))
   */
  onClose (handler: (stream: this) => void): void {
    const hook = handler as (stream: SSEStream) => void
    if (this.#state === CLOSED) {
      queueMicrotask(() => this.#runHook(hook))
      return
    }
    this.#closeHandlers.push(hook)
  }

  /**
   * Ends the stream after the events already queued. Idempotent. A stream whose
   * head was never written is answered with an empty event stream.
   */
  close (): void {
    try {
      if (!this.#ensureOpen()) return
    } catch (error) {
      // The head could not be written: there is no valid response to end.
      this.#reportError(error as Error)
      this.#res.destroy?.()
      return
    }
    const compressor = this.#compressor
    if (compressor === null) {
      this.#end(null)
      return
    }
    // The compressor's last frames come asynchronously: refuse new writes meanwhile.
    this.#state = CLOSING
    const queue = this.#takeQueue()
    if (queue !== null) compressor.write(queue)
    compressor.finish().then((last) => {
      if (this.#state === CLOSING) this.#end(last)
    }, (error: Error) => this.#reportError(error))
  }

  #end (last: Buffer | null): void {
    const queue = this.#takeQueue()
    if (queue !== null) {
      this.#res.end(last === null ? queue : concat([queue, last]))
    } else if (last !== null && last.length > 0) {
      this.#res.end(last)
    } else {
      this.#res.end()
    }
    this.#finish('server')
  }

  // Where a compressor's frames go; made only for a compressed stream.
  #frameSink (): FrameSink {
    return {
      frame: (frame: Buffer): Promise<boolean> => {
        if (this.#state === CLOSED) return DROPPED
        // Frames cannot be reordered or dropped: written even while the socket asks to wait.
        if (this.#res.write(frame)) return WRITTEN
        if (this.#queue === null) return this.#waitForDrain()
        // Their input was admitted within the hard bound; what they add to the socket's backlog is timed.
        this.#clockFor().check(this.bufferedAmount)
        return (this.#drain as Deferred<boolean>).promise
      },
      fail: (error: Error): void => {
        // A broken compressor cannot produce valid bytes any more: end this stream only.
        this.#reportError(error)
        this.#finish('server')
        this.#res.destroy?.()
      }
    }
  }

  /**
   * Abandons a stream whose head has not been written, writing nothing, so the
   * response can still be used for something else (an error response). Returns
   * false, doing nothing, once the head has been written or the stream ended.
   */
  discard (): boolean {
    if (this.#state !== PENDING) return false
    this.#finish('server')
    return true
  }

  /** Writes the head if still pending; true if the stream is open. */
  #ensureOpen (): boolean {
    this.open()
    return this.#state === OPEN
  }

  /** Starts queueing until whatever blocks (the socket, or the compressor's backlog) clears. */
  #waitForDrain (): Promise<boolean> {
    this.#queue = []
    this.#drain = deferred<boolean>()
    // What the socket was just given counts: a lone write past the soft bound starts the clock too.
    this.#clockFor().check(this.bufferedAmount)
    this.#waitForUnblock()
    return this.#drain.promise
  }

  #waitForUnblock (): void {
    // The listener is made on first need: most streams never wait.
    this.#onDrain ??= () => { this.#drained() }
    // A refused direct write set no drain flag on the response, which then never emits 'drain': the socket does.
    if (this.#drainSocket !== null) this.#drainSocket.once('drain', this.#onDrain)
    else if (this.#res.writableNeedDrain !== false || this.#compressor === null) this.#res.once('drain', this.#onDrain)
    else this.#compressor.whenIdle(this.#onDrain)
  }

  /** Empties the queue: everything in it as one chunk, or null if it held nothing. */
  #takeQueue (): string | Buffer | null {
    const queue = this.#queue
    this.#queue = null
    this.#queuedBytes = 0
    return queue === null || queue.length === 0 ? null : concat(queue)
  }

  #drained (): void {
    const drain = this.#drain
    if (drain === null || this.#state === CLOSED) return
    this.#stopWaiting()
    if (this.#res.writableNeedDrain === true || (this.#compressor?.pendingBytes ?? 0) >= COMPRESSOR_HIGH_WATER) {
      this.#waitForUnblock()
      return
    }
    this.#drain = null
    // The socket drained: the client reads, so its stall clock stops (#waitForDrain starts it again if need be).
    this.#clock?.stop()
    // Everything queued so far is handed over as one write (one frame), in order. It goes
    // through res.write(): the socket has just drained, so no direct write is pending.
    const chunk = this.#takeQueue()
    if (chunk === null) {
      drain.resolve(true)
    } else if (this.#compressor !== null) {
      this.#compressor.write(chunk).then(drain.resolve, (error: Error) => this.#reportError(error))
    } else if (this.#res.write(chunk)) {
      drain.resolve(true)
    } else {
      this.#waitForDrain().then(drain.resolve, (error: Error) => this.#reportError(error))
    }
  }

  #stopWaiting (): void {
    if (this.#onDrain === null) return
    this.#res.removeListener('drain', this.#onDrain)
    this.#drainSocket?.removeListener('drain', this.#onDrain)
    this.#drainSocket = null
  }

  // Shared listeners (no closures per stream): they find their stream on the response.
  static #onResponseClose (this: SSEResponse): void {
    const stream = streamOf(this)
    if (stream !== undefined) stream.#finish('client')
  }

  static #onResponseError (this: SSEResponse, error: Error): void {
    const stream = streamOf(this)
    if (stream === undefined) return
    stream.#reportError(error)
    stream.#finish('client')
  }

  #reportError (error: Error): void {
    if (this.#onError !== undefined) this.#onError(error)
  }

  #finish (reason: SSECloseReason): void {
    if (this.#state === CLOSED) return
    const wasOpen = this.#state === OPEN || this.#state === CLOSING
    this.#state = CLOSED
    this.#compressor?.destroy()
    this.#compressor = null
    this.#clock?.stop()
    this.closeReason = reason
    if (wasOpen && this.#keepAlive !== false) deleteHeartbeat(this.#keepAlive, this)
    // The socket outlives the response (keep-alive): no listener of ours may stay on it.
    this.#stopWaiting()
    this.#head = null
    this.#res.removeListener('close', SSEStream.#onResponseClose)
    this.#res.removeListener('error', SSEStream.#onResponseError)
    this.#queue = null
    this.#queuedBytes = 0
    if (this.#drain !== null) {
      // A write waiting for drain settles at once: its bytes went out with
      // `end()` on a server close, and will never go out on a client one.
      this.#drain.resolve(reason === 'server')
      this.#drain = null
    }
    this.#closed?.resolve()
    this.#abort?.abort()
    const handlers = this.#closeHandlers
    this.#closeHandlers = []
    for (const handler of handlers) this.#runHook(handler)
    // Only a stream that opened, so that opens and closes pair up (a gauge of open streams).
    if (wasOpen && sseClose.hasSubscribers) sseClose.publish({ stream: this, reason })
  }

  #runHook (hook: (stream: SSEStream) => void): void {
    try {
      hook(this)
    } catch (error) {
      this.#reportError(error as Error)
    }
  }
}

function streamOf (res: SSEResponse): SSEStream | undefined {
  return (res as unknown as Record<symbol, SSEStream | undefined>)[kStream]
}

/** One chunk from queued ones: a string when they all are, else bytes. */
function concat (chunks: Array<string | Buffer>): string | Buffer {
  if (chunks.every((chunk) => typeof chunk === 'string')) return chunks.join('')
  return Buffer.concat(chunks.map((chunk) => typeof chunk === 'string' ? Buffer.from(chunk) : chunk))
}
