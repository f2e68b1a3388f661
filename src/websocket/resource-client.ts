/**
 * One WebSocket connection of a resource (Hunchensocket's `websocket-client`):
 * messages handled one at a time in order, held while `connected` runs, sends
 * bounded by the client's unsent bytes, heartbeat, and the registry
 * `Subscriber` interface so a client can join any registry. Its route
 * (resource-route.ts) starts it and takes it out of its room when it closes.
 */
import { randomUUID } from 'node:crypto'
import type { Duplex } from 'node:stream'
import type { RawData, WebSocket } from 'ws'
import {
  FST_ERR_WS_HEARTBEAT_TIMEOUT,
  FST_ERR_WS_INVALID_MESSAGE,
  FST_ERR_WS_MESSAGE_TIMEOUT,
  FST_ERR_WS_MESSAGE_TOO_BIG,
  FST_ERR_WS_OVERFLOW,
  FST_ERR_WS_STALLED,
  FST_ERR_WS_UNSUPPORTED_DATA
} from '../errors.js'
import type { Subscriber } from '../registry/subscriber.js'
import { addHeartbeat, deleteHeartbeat, type HeartbeatTarget } from '../heartbeat.js'
import { CloseCode, closeCodeOfWsError, truncateReason, validateCloseCode } from './close-codes.js'
import { DropOldestSender } from './drop-oldest.js'
import { slowConsumerLimits, StallClock } from '../slow-consumer.js'
import { envelopeMessages } from './envelope.js'
import { frameSender, writesDirectly, type FrameSender, type SharedMessage } from './frame.js'
import { encodeMessage, parseUntrustedJson, type OutgoingMessage } from './message.js'
import type { ResolvedResourceOptions } from './options.js'
import type { Resource } from './resource.js'
import { holdMessages, messageInProgress, networkSocket, releaseMessages } from './ws-internals.js'
import { deferred, type Deferred } from '../deferred.js'
import { kClient, kClosed, kErrored, kHeartbeat, kLeave, kPonged, kRead, kReceive, kStart } from '../symbols.js'
import { websocketClose, websocketOpen } from '../diagnostics.js'

/**
 * Validates a parsed JSON message: the value to hand to `message` (validators
 * may coerce it), or what is wrong. The Fastify plugin builds one from the
 * route's validator compiler.
 */
export type MessageValidator = (value: unknown) => { valid: true, value: unknown } | { valid: false, message: string }

/** The handlers of a resource, Hunchensocket's generic functions. */
export interface ResourceHandlers<Data, Request, Message> {
  /** A client joined. Messages that arrive before it settles are held, then handled in order. */
  connected?: (client: ResourceClient<Data, Request, Message>) => unknown
  /** A text message: the string, or the parsed JSON when the resource has a schema. */
  message?: (client: ResourceClient<Data, Request, Message>, data: Message) => unknown
  /** A binary message. Without this handler binary messages close the connection with 1003. */
  binary?: (client: ResourceClient<Data, Request, Message>, data: Buffer) => unknown
  /** The client is gone; called exactly once, after `connected` settled, whatever happened. */
  disconnected?: (client: ResourceClient<Data, Request, Message>, code: number, reason: string) => unknown
}

/** Everything a client needs from its resource's declaration, shared by all its clients. */
export interface ClientDefinition<Data, Request, Message> extends ResourceHandlers<Data, Request, Message> {
  readonly options: ResolvedResourceOptions
  /** Validates parsed JSON messages; without it text messages are passed as strings. */
  readonly validate?: MessageValidator | undefined
  /** Receives what went wrong with a client: its mistakes (4xx `statusCode`) and handler errors. */
  readonly onError: (error: Error & { statusCode?: number }, client: ResourceClient<Data, Request, Message>) => void
  /** Takes a closed client out of its room: set by the route that accepted it, so the client never reaches into its room. */
  readonly [kLeave]?: (client: ResourceClient<Data, Request, Message>) => void
}

const CONNECTING = 0
const OPEN = 1
const CLOSED = 2
// Closed, and `disconnected` has settled.
const FINISHED = 3

// Past this many held messages the rest of the input stays unparsed bytes (ws-internals.ts)
// until the client has handled one of them.
const INBOX_HIGH_WATER = 64

type Socket = WebSocket & { [kClient]?: ResourceClient<any, any, any> }
type NetworkSocket = Duplex & { [kClient]?: ResourceClient<any, any, any> }

/**
 * A connected WebSocket client of a resource.
 * @example client.send({ type: 'welcome', room: client.resource.name })
 */
export class ResourceClient<Data = Record<string, unknown>, Request = unknown, Message = string> implements Subscriber, HeartbeatTarget {
  /** The HTTP request of the upgrade (in the Fastify plugin: the FastifyRequest, with cookies and session). */
  readonly request: Request
  /** The resource instance (room) the client is in. */
  readonly resource: Resource<ResourceClient<Data, Request, Message>>
  /** The id a registry replays from (the upgrade's `lastEventId` query parameter or `Last-Event-ID` header). */
  readonly lastEventId: string | undefined
  /** The error the server closed this client for (overflow, heartbeat, invalid message, handler error), if any. */
  closeError: Error | undefined

  readonly #socket: Socket
  // Made when first read (room presence reads it): idle clients that nobody asks about carry no string.
  #id: string | undefined
  // Made on first use when the resource has no data() (most idle clients of such resources never touch it).
  #data: Data | undefined
  readonly #definition: ClientDefinition<Data, Request, Message>
  #state = CONNECTING
  // Allocated on first need (most clients never hold a message, or never get a close handler).
  #inbox: Array<{ data: Buffer, binary: boolean }> | null = null
  #busy = false
  #alive = true
  #closeCode: number | undefined
  #closeHandlers: Array<(client: this) => void> | null = null
  #closed: { code: number, reason: string } | undefined
  // Set only while part of a message has been read: `messageTimeout` runs from then.
  #messageTimer: NodeJS.Timeout | null = null
  // Made on first need: only app.close() asks.
  #finished: Deferred<void> | null = null
  // drop-oldest only: the sender that keeps the newest messages within the bound.
  readonly #dropOldest: DropOldestSender | null
  // 'close' only, made on first need: runs while the client's unsent bytes are above the soft bound.
  #clock: StallClock | null = null
  #flushed: (() => void) | null = null
  // Without extensions: ws's sender, whose socket takes a broadcast's pre-framed bytes.
  readonly #frameSender: FrameSender | null

  /**
   * Wraps an open `ws` socket; its route starts it, which runs `connected` and begins reading.
   * @param socket the server-side ws WebSocket
   * @param resource the resource instance the client joins
   * @param definition handlers, options and error reporting of the resource
   * @param request the upgrade request
   * @param info the resume id and the initial `data` (default: `{}` on first use)
   */
  constructor (socket: WebSocket, resource: Resource<ResourceClient<Data, Request, Message>>, definition: ClientDefinition<Data, Request, Message>, request: Request, info: { lastEventId?: string | undefined, data?: Data | undefined }) {
    this.#socket = socket as Socket
    this.resource = resource
    this.#definition = definition
    this.request = request
    this.#data = info.data
    this.lastEventId = info.lastEventId
    this.#dropOldest = definition.options.overflow === 'drop-oldest' ? new DropOldestSender(socket, slowConsumerLimits(definition.options)) : null
    this.#frameSender = frameSender(socket)
  }

  /**
   * The client's id: a random UUID, made when first read and the same for the
   * client's whole life. Room presence across nodes lists these.
   * @example client.send({ type: 'welcome', you: client.id })
   */
  get id (): string {
    return (this.#id ??= randomUUID())
  }

  /** Per-client state of the application. */
  get data (): Data {
    return (this.#data ??= {} as Data)
  }

  set data (value: Data) {
    this.#data = value
  }

  /** The subprotocol the server selected, or ''. */
  get protocol (): string {
    return this.#socket.protocol
  }

  /** True once the connection is closed (or closing). */
  get isClosed (): boolean {
    return this.#state >= CLOSED || this.#socket.readyState > 1
  }

  /** Bytes accepted by `send()` that the peer has not been sent yet. */
  get bufferedAmount (): number {
    return this.#socket.bufferedAmount + (this.#dropOldest?.queuedBytes ?? 0)
  }

  /**
   * Sends text, binary data, or any other value as JSON text. Never waits: past
   * `maxBufferedBytes` of unsent data the overflow policy applies. Returns false
   * when nothing was sent (closed, or dropped).
   * @example client.send({ type: 'joined', name: client.data.name })
   */
  send (message: OutgoingMessage): boolean {
    const { data, binary } = encodeMessage(message)
    return this.#transmit(data, binary, typeof data === 'string' ? Buffer.byteLength(data) : data.length)
  }

  /**
   * Sends bytes already encoded as a text (`binary` false) or binary message:
   * what a broadcast does for each client after encoding once.
   * @example client.sendEncoded(Buffer.from('{"type":"tick"}'), false)
   */
  sendEncoded (bytes: Buffer, binary: boolean): boolean {
    return this.#transmit(bytes, binary, bytes.length)
  }

  /**
   * Sends a message shared by many clients (a broadcast): as its pre-framed
   * bytes straight to the socket when ws would send exactly those at once, as
   * `sendEncoded()` otherwise. Same bound and overflow policy.
   * @example client.sendShared(new SharedMessage(Buffer.from('hi'), false))
   */
  sendShared (message: SharedMessage): boolean {
    return this.#transmit(message.bytes, message.binary, message.bytes.length, message)
  }

  /**
   * Sends SSE-encoded events in the resource's envelope: what a registry does
   * for each broadcast, and how to send one client a Datastar event of its own
   * (its initial state, say) in the same envelope as the broadcasts.
   * @example client.write(patchSignalsEvent({ count })) // patchSignalsEvent from fastify-datastar/core
   */
  write (encoded: string | Buffer): boolean {
    let sent = true
    for (const message of envelopeMessages(encoded, this.#definition.options.envelope)) {
      sent = this.sendEncoded(message, false) && sent
    }
    return sent
  }

  /**
   * Sends a ping; the heartbeat does this by itself.
   * @example client.ping()
   */
  ping (): void {
    if (!this.isClosed) this.#socket.ping()
  }

  /**
   * Starts the closing handshake. `disconnected` runs when it completes.
   * @example client.close(4000, 'kicked')
   */
  close (code: number = CloseCode.NORMAL, reason = ''): void {
    validateCloseCode(code)
    if (this.isClosed) return
    this.#closeCode = code
    const socket = this.#socket
    socket.close(code, truncateReason(reason))
    // Input kept unparsed while messages were held must be read (and ignored, closing): the peer's close frame is in it.
    releaseMessages(socket)
  }

  /**
   * Drops the connection at once, without a closing handshake.
   * @example client.terminate()
   */
  terminate (): void {
    if (this.#state < CLOSED) this.#socket.terminate()
  }

  /**
   * Runs `handler` once the client is gone (registries use this to forget it).
   * @example client.onClose(() => presence.delete(client.data.name))
   */
  onClose (handler: (client: this) => void): void {
    if (this.#state >= CLOSED) {
      queueMicrotask(() => { this.#runHook(handler) })
      return
    }
    ;(this.#closeHandlers ??= []).push(handler)
  }

  /** Heartbeat tick: terminate a peer that did not answer the previous ping, else ping it. */
  [kHeartbeat] (): void {
    // While messages are held the pong is not parsed yet: the client is busy, not silent.
    if (this.#holding) return
    if (!this.#alive) {
      this.#fail(new FST_ERR_WS_HEARTBEAT_TIMEOUT(this.#definition.options.heartbeat))
      return
    }
    this.#alive = false
    this.#socket.ping()
  }

  /**
   * Begins the client's life: listens to the socket and runs `connected`.
   * Called once by the route that accepted it.
   */
  [kStart] (): void {
    const socket = this.#socket
    socket[kClient] = this
    socket.on('message', onSocketMessage)
    // After ws's own 'data' listener: sees what ws has just parsed.
    const network: NetworkSocket = networkSocket(socket)
    network[kClient] = this
    network.on('data', onNetworkData)
    socket.on('close', onSocketClose)
    socket.on('error', onSocketError)
    const { heartbeat } = this.#definition.options
    // Without a heartbeat nothing needs the pongs (and each listener costs every idle client).
    if (heartbeat !== false) {
      socket.on('pong', onSocketPong)
      addHeartbeat(heartbeat, this)
    }
    if (websocketOpen.hasSubscribers) websocketOpen.publish({ client: this })
    const connected = this.#definition.connected
    if (connected === undefined) {
      this.#state = OPEN
      return
    }
    this.#settle(this.#call(connected, this), () => {
      if (this.#state === CONNECTING) this.#state = OPEN
      this.#drain()
    })
  }

  /** A message from the socket: handled now, or held in order. */
  [kReceive] (data: Buffer, binary: boolean): void {
    // Nothing more is handled once the server or the peer started closing.
    if (this.isClosed) return
    if (this.#state === CONNECTING || this.#busy) {
      const inbox = this.#inbox ??= []
      inbox.push({ data, binary })
      // Hold the peer back (its input kept as bytes, then TCP backpressure) rather than buffer without bound.
      if (inbox.length === INBOX_HIGH_WATER) holdMessages(this.#socket, this.#definition.options.maxPayload)
      return
    }
    this.#handle(data, binary)
  }

  /** Input was read: a message left incomplete is timed, one completed stops being timed. */
  [kRead] (): void {
    if (this.#holding || this.isClosed || !messageInProgress(this.#socket)) {
      this.#stopMessageTimer()
      return
    }
    const timeout = this.#definition.options.messageTimeout
    this.#messageTimer ??= setTimeout(() => {
      this.#messageTimer = null
      this.#refuse(CloseCode.POLICY_VIOLATION, new FST_ERR_WS_MESSAGE_TIMEOUT(timeout))
    }, timeout).unref()
  }

  #stopMessageTimer (): void {
    if (this.#messageTimer === null) return
    clearTimeout(this.#messageTimer)
    this.#messageTimer = null
  }

  /** The socket closed: release everything and tell the application once. */
  [kClosed] (code: number, reason: string): void {
    if (this.#state >= CLOSED) return
    const wasConnecting = this.#state === CONNECTING
    this.#state = CLOSED
    this.#inbox = null
    this.#stopMessageTimer()
    this.#dropOldest?.clear()
    this.#clock?.stop()
    const { heartbeat } = this.#definition.options
    if (heartbeat !== false) deleteHeartbeat(heartbeat, this)
    this.#closed = { code: this.#closeCode ?? code, reason }
    this.#definition[kLeave]?.(this)
    const handlers = this.#closeHandlers
    this.#closeHandlers = null
    if (handlers !== null) for (const handler of handlers) this.#runHook(handler)
    if (websocketClose.hasSubscribers) websocketClose.publish({ client: this, code: this.#closed.code, reason, error: this.closeError })
    // `connected` or a message handler still running: `disconnected` comes when it settles (see #drain()).
    if (!wasConnecting && !this.#busy) this.#disconnected()
  }

  /** ws reported an error: remember the close code it sent for a bad frame. */
  [kErrored] (error: Error & { code?: string }): void {
    if (this.#closeCode === undefined && typeof error.code === 'string' && error.code.startsWith('WS_ERR_')) {
      this.#closeCode = closeCodeOfWsError(error)
      this.#report(Object.assign(error, { statusCode: 400 }))
    }
  }

  /** A pong arrived: the peer is alive. */
  [kPonged] (): void {
    this.#alive = true
  }

  #disconnected (): void {
    const closed = this.#closed
    if (closed === undefined) return
    this.#closed = undefined
    const disconnected = this.#definition.disconnected
    const result = disconnected === undefined ? undefined : this.#call(() => disconnected(this, closed.code, closed.reason))
    this.#settle(result, () => { this.#markFinished() })
  }

  /**
   * Resolves once the client is gone and its `disconnected` handler has
   * settled (what `app.close()` waits for, within its `closeTimeout`).
   * @example await client.finished
   */
  get finished (): Promise<void> {
    if (this.#state === FINISHED) return Promise.resolve()
    return (this.#finished ??= deferred()).promise
  }

  #markFinished (): void {
    this.#state = FINISHED
    this.#finished?.resolve()
  }

  // Runs messages held while `connected` or an async handler ran, in order.
  #drain (): void {
    if (this.#state >= CLOSED) {
      this.#disconnected()
      return
    }
    const inbox = this.#inbox
    if (inbox === null) return
    const wasHolding = this.#holding
    while (!this.#busy && !this.isClosed && inbox.length > 0) {
      const next = inbox.shift()!
      this.#handle(next.data, next.binary)
    }
    // After the loop: the input parsed now is handled (or held) after everything held before it.
    if (wasHolding && !this.#holding && !this.isClosed) {
      releaseMessages(this.#socket)
      // What was released may end in part of a message, and no read may come to time it.
      this[kRead]()
    }
  }

  // True while the inbox is full and the input waits unparsed.
  get #holding (): boolean {
    return this.#inbox !== null && this.#inbox.length >= INBOX_HIGH_WATER
  }

  #handle (data: Buffer, binary: boolean): void {
    const result = this.#dispatch(data, binary)
    if (result === undefined) return
    this.#busy = true
    this.#settle(result, () => {
      this.#busy = false
      this.#drain()
    })
  }

  // Calls the right handler; returns a promise only when the handler is asynchronous.
  #dispatch (data: Buffer, binary: boolean): Promise<unknown> | undefined {
    const definition = this.#definition
    const { maxPayload } = definition.options
    if (data.length > maxPayload) {
      this.#refuse(CloseCode.MESSAGE_TOO_BIG, new FST_ERR_WS_MESSAGE_TOO_BIG(data.length, maxPayload))
      return undefined
    }
    if (binary) {
      if (definition.binary === undefined) return this.#refuse(CloseCode.UNSUPPORTED_DATA, new FST_ERR_WS_UNSUPPORTED_DATA('binary'))
      return this.#call(definition.binary, this, data)
    }
    if (definition.message === undefined) return this.#refuse(CloseCode.UNSUPPORTED_DATA, new FST_ERR_WS_UNSUPPORTED_DATA('text'))
    const text = data.toString('utf8')
    if (definition.validate === undefined) return this.#call(definition.message, this, text as Message)
    let value: unknown
    try {
      value = parseUntrustedJson(text)
    } catch (error) {
      return this.#invalid(`not JSON: ${(error as Error).message}`)
    }
    let result: ReturnType<MessageValidator>
    try {
      result = definition.validate(value)
    } catch (error) {
      // A validator that throws (or an asynchronous one) is the application's fault, not the client's.
      this.#handlerFailed(error)
      return undefined
    }
    if (!result.valid) return this.#invalid(result.message)
    return this.#call(definition.message, this, result.value as Message)
  }

  #invalid (problem: string): undefined {
    const error = new FST_ERR_WS_INVALID_MESSAGE(problem)
    if (this.#definition.options.invalidMessage === 'close') return this.#refuse(CloseCode.POLICY_VIOLATION, error)
    this.#report(error)
    this.send({ error: { statusCode: error.statusCode, code: error.code, message: error.message } })
    return undefined
  }

  // A client mistake: close with its code and report it (as a 4xx).
  #refuse (code: number, error: Error): undefined {
    this.closeError ??= error
    this.#report(error)
    this.close(code, error.message)
    return undefined
  }

  // Calls a handler; a throw or a rejection closes the client with 1011.
  #call<A extends unknown[]> (handler: (...args: A) => unknown, ...args: A): Promise<unknown> | undefined {
    let result: unknown
    try {
      result = handler(...args)
    } catch (error) {
      this.#handlerFailed(error)
      return undefined
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      return (result as Promise<unknown>).then(undefined, (error: unknown) => { this.#handlerFailed(error) })
    }
    return undefined
  }

  #settle (result: Promise<unknown> | undefined, then: (() => void) | undefined): void {
    if (result === undefined) {
      then?.()
      return
    }
    result.then(then, undefined)
  }

  #handlerFailed (error: unknown): void {
    const failure = error instanceof Error ? error : new Error(String(error))
    this.closeError ??= failure
    this.#report(failure)
    this.#busy = false
    this.close(CloseCode.INTERNAL_ERROR, 'Internal error')
  }

  // The server gives up on a peer that cannot be talked to (stalled or silent).
  #fail (error: Error): void {
    this.closeError ??= error
    this.#report(error)
    this.#socket.terminate()
  }

  #report (error: Error): void {
    try {
      this.#definition.onError(error, this)
    } catch {
      // A broken error reporter must not break the connection handling.
    }
  }

  #runHook (handler: (client: this) => void): void {
    try {
      handler(this)
    } catch (error) {
      this.#report(error as Error)
    }
  }

  #transmit (payload: Buffer | string, binary: boolean, size: number, shared?: SharedMessage): boolean {
    if (this.isClosed) return false
    if (this.#dropOldest !== null) {
      this.#dropOldest.send(payload, binary, size)
      return true
    }
    const socket = this.#socket
    const buffered = socket.bufferedAmount + size
    // Above the soft bound the stall clock runs; past the hard one the client is let go, except
    // for a single message bigger than the bounds, which still goes out when nothing waits.
    if (buffered > this.#definition.options.maxBufferedBytes && this.#clockFor().check(buffered) && buffered !== size) {
      this.#fail(new FST_ERR_WS_OVERFLOW((this.#clock as StallClock).limits.hardMaxBufferedBytes))
      return false
    }
    // While the clock runs, each send's flush tells whether the client drained below the soft bound.
    const flushed = this.#clock?.running === true ? (this.#flushed ??= () => { this.#clock?.drained(this.#socket.bufferedAmount) }) : undefined
    if (!this.#writeFrame(shared, flushed)) socket.send(payload, { binary }, flushed)
    return true
  }

  #clockFor (): StallClock {
    return (this.#clock ??= new StallClock(slowConsumerLimits(this.#definition.options), () => {
      const { maxBufferedBytes, stallTimeout } = (this.#clock as StallClock).limits
      if (!this.isClosed) this.#fail(new FST_ERR_WS_STALLED(maxBufferedBytes, stallTimeout))
    }))
  }

  // A broadcast's pre-framed bytes, straight to the socket when ws would send exactly them; false when ws must send.
  #writeFrame (shared: SharedMessage | undefined, flushed: (() => void) | undefined): boolean {
    const sender = this.#frameSender
    if (shared === undefined || sender === null || !writesDirectly(sender)) return false
    const frame = shared.frame
    if (frame === null) return false
    sender._socket.write(frame, flushed)
    return true
  }
}

// Shared socket listeners (no closure per client): the socket knows its client.
function onSocketMessage (this: Socket, data: RawData, isBinary: boolean): void {
  this[kClient]?.[kReceive](data as Buffer, isBinary)
}

function onNetworkData (this: NetworkSocket): void {
  this[kClient]?.[kRead]()
}

function onSocketClose (this: Socket, code: number, reason: Buffer): void {
  this[kClient]?.[kClosed](code, reason.toString('utf8'))
}

function onSocketError (this: Socket, error: Error): void {
  this[kClient]?.[kErrored](error)
}

function onSocketPong (this: Socket): void {
  this[kClient]?.[kPonged]()
}
