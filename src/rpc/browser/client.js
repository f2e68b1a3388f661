// @ts-check
/**
 * The RPC client: what a page runs (served by the RPC plugin as it is) and
 * what Node tests run on `ws`. It opens a session, answers the server's
 * calls with the page's functions, calls the server's, and across a lost
 * connection reconnects with backoff and jitter and resumes the same
 * session: calls in flight on either side are answered exactly once.
 */
import { Peer, RpcError } from './peer.js'
import { parseFrames, PROTOCOL_VERSION, RpcErrorCode } from './protocol.js'
import { SseTransport } from './sse-transport.js'

/** @typedef {import('./peer.js').CallOptions} CallOptions */
/** @typedef {import('./protocol.js').WelcomeFrame} WelcomeFrame */

/**
 * What the client needs of a WebSocket (the browser's, or ws's in Node).
 * @typedef {{
 *   readyState: number,
 *   send: (text: string) => void,
 *   close: (code?: number, reason?: string) => void,
 *   onopen: ((event: unknown) => void) | null,
 *   onmessage: ((event: { data: unknown }) => void) | null,
 *   onclose: ((event: { code: number, reason: string }) => void) | null,
 *   onerror: ((event: unknown) => void) | null
 * }} SocketLike
 */
/** @typedef {new (url: string) => SocketLike} SocketConstructor */
/**
 * How a connection reaches the server: a WebSocket, or an SSE stream down and POSTs up.
 * @typedef {'websocket' | 'sse'} Transport
 */
/**
 * A function the server may call: its arguments, then a context with the
 * call's `signal` (aborted when the server gives up).
 * @typedef {(...args: any[]) => unknown} PageFunction
 */
/**
 * Options of `connect()`:
 * - `url`: the RPC socket (ws: or wss:);
 * - `sseUrl`: the RPC stream (http: or https:, `<prefix>/stream`), for the transport without WebSocket;
 * - `transports`: the transports each connection tries, in order (default: those with a URL,
 *   WebSocket first): the next one is tried when a connection ends before its welcome;
 * - `functions`: the page's own functions the server may call (those it declared without a body);
 * - `module`: the generated module of the server's browser functions and its hash;
 * - `WebSocket`: the constructor (default: the global one); `fetch`: the SSE transport's (default: the global one);
 * - `timeout`, `maxInFlight`, `maxOutboxBytes`: as on the server (defaults 30 s, 64, 1 MiB);
 * - `reconnect`: first and largest delay between attempts, in ms (defaults 250 and 10 000).
 * @typedef {{
 *   url?: string,
 *   sseUrl?: string,
 *   transports?: Transport[],
 *   functions?: Record<string, PageFunction>,
 *   module?: { hash: string, functions: Record<string, PageFunction> },
 *   WebSocket?: SocketConstructor,
 *   fetch?: import('./sse-transport.js').FetchLike,
 *   timeout?: number,
 *   maxInFlight?: number,
 *   maxOutboxBytes?: number,
 *   reconnect?: { initialDelay?: number, maxDelay?: number }
 * }} ConnectOptions
 */

// The server closed for a reason a new attempt would not change (a frame it refused, a newer socket of this page).
const FINAL_CLOSE_CODES = new Set([1008, 4001])

/**
 * A page's session with the server. Events: `connected`, `disconnected`,
 * `update` (the server's browser functions changed: reload the page).
 * @example const server = await connect({ url: 'wss://example.com/rpc' }); await server.call('greet', ['ada'])
 */
export class RpcClient extends EventTarget {
  /** @type {Required<Pick<ConnectOptions, 'timeout' | 'maxInFlight' | 'maxOutboxBytes'>> & ConnectOptions} */
  #options
  /** @type {Transport[]} */
  #transports
  // The transport of this attempt (an index into #transports) and of the current (or last) connection.
  #tried = 0
  /** @type {Transport | undefined} */
  #transport
  /** @type {Record<string, PageFunction>} */
  #functions
  /** @type {import('./peer.js').PeerHost} */
  #host
  /** @type {Peer} */
  #peer
  /** @type {SocketLike | null} */
  #socket = null
  /** @type {string | undefined} */
  #session
  /** @type {string | undefined} */
  #token
  #attempt = 0
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #retry
  #closed = false
  /** @type {((client: RpcClient) => void) | null} */
  #onFirstWelcome = null
  /** @type {((error: Error) => void) | null} */
  #onFirstFailure = null

  /** @param {ConnectOptions} options */
  constructor (options) {
    super()
    this.#options = { timeout: 30_000, maxInFlight: 64, maxOutboxBytes: 1024 * 1024, ...options }
    this.#transports = options.transports ?? /** @type {Transport[]} */ ([...(options.url === undefined ? [] : ['websocket']), ...(options.sseUrl === undefined ? [] : ['sse'])])
    if (this.#transports.length === 0) throw new TypeError('no transport: pass options.url (WebSocket) or options.sseUrl (SSE)')
    for (const transport of this.#transports) {
      if (transport !== 'websocket' && transport !== 'sse') throw new TypeError(`unknown transport ${JSON.stringify(transport)}: 'websocket' or 'sse'`)
      if ((transport === 'websocket' ? options.url : options.sseUrl) === undefined) throw new TypeError(`the ${transport} transport needs options.${transport === 'websocket' ? 'url' : 'sseUrl'}`)
    }
    if (this.#transports.includes('websocket') && options.WebSocket === undefined && /** @type {any} */ (globalThis).WebSocket === undefined) throw new TypeError('no WebSocket: pass options.WebSocket')
    // Only own names are functions: a null prototype, so `constructor` or `__proto__` are not.
    this.#functions = Object.assign(Object.create(null), options.module?.functions, options.functions)
    this.#host = {
      timeout: this.#options.timeout,
      maxInFlight: this.#options.maxInFlight,
      maxOutboxBytes: this.#options.maxOutboxBytes,
      run: (name, args, context) => {
        const fn = this.#functions[name]
        if (fn === undefined) throw new RpcError(RpcErrorCode.NOT_FOUND, `the page has no function ${JSON.stringify(name)}`)
        return fn(...args, context)
      }
    }
    this.#peer = new Peer(this.#host)
  }

  /** The session id, once connected. */
  get session () {
    return this.#session
  }

  /** How the current (or last) connection reaches the server: `'websocket'` or `'sse'`. */
  get transport () {
    return this.#transport
  }

  /** True while the socket is open and the session established. */
  get connected () {
    return this.#socket !== null && this.#session !== undefined && this.#socket.readyState === 1
  }

  /**
   * Calls the server function `name` with `args`; resolves with its result or
   * rejects with an `RpcError` (its `code` says why).
   * @param {string} name
   * @param {unknown[]} [args]
   * @param {CallOptions} [options]
   * @returns {Promise<unknown>}
   * @example await server.call('greet', ['ada'], { timeout: 5000 })
   */
  call (name, args = [], options) {
    return this.#peer.call(name, args, options)
  }

  /**
   * Ends the session: the server is told (`bye`), pending calls reject, no reconnect.
   * @example window.addEventListener('pagehide', () => server.close())
   */
  close () {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#retry)
    const socket = this.#socket
    this.#socket = null
    if (socket !== null && socket.readyState === 1) socket.send(JSON.stringify({ t: 'bye' }))
    socket?.close(1000, 'closed')
    this.#peer.end(new RpcError(RpcErrorCode.DISCONNECTED, 'the client closed its session'))
  }

  /**
   * Opens the first connection; resolves once the session is established.
   * @returns {Promise<RpcClient>}
   */
  start () {
    return new Promise((resolve, reject) => {
      this.#onFirstWelcome = resolve
      this.#onFirstFailure = reject
      this.#open()
    })
  }

  // A connection by the transport of this attempt.
  #connect () {
    const transport = /** @type {Transport} */ (this.#transports[this.#tried])
    this.#transport = transport
    if (transport === 'sse') return new SseTransport(/** @type {string} */ (this.#options.sseUrl), { fetch: this.#options.fetch })
    const WebSocketClass = this.#options.WebSocket ?? /** @type {SocketConstructor} */ (/** @type {any} */ (globalThis).WebSocket)
    return new WebSocketClass(/** @type {string} */ (this.#options.url))
  }

  #open () {
    const socket = this.#connect()
    this.#socket = socket
    let welcomed = false
    socket.onopen = () => {
      socket.send(JSON.stringify({ t: 'hello', v: PROTOCOL_VERSION, ack: this.#peer.received, session: this.#session, token: this.#token, module: this.#options.module?.hash }))
    }
    socket.onmessage = (event) => {
      const frames = typeof event.data === 'string' ? parseFrames(event.data) : null
      if (frames === null) {
        socket.close(1008, 'not an RPC frame')
        return
      }
      for (const frame of frames) {
        if (frame.t === 'welcome') {
          welcomed = true
          this.#welcome(socket, frame)
        } else if (!this.#peer.receive(frame)) {
          socket.close(1008, `unexpected ${frame.t} frame`)
          return
        }
      }
    }
    socket.onerror = () => {}
    socket.onclose = (event) => {
      if (this.#socket !== socket) return
      this.#socket = null
      this.#peer.detach()
      if (this.#closed) return
      const final = FINAL_CLOSE_CODES.has(event.code)
      // Ended before its welcome (an upgrade refused, a proxy that drops WebSockets): the next transport, at once.
      if (!welcomed && !final && this.#tried + 1 < this.#transports.length) {
        this.#tried++
        this.#open()
        return
      }
      this.#tried = 0
      this.dispatchEvent(new Event('disconnected'))
      if (final) {
        this.#fail(new RpcError(RpcErrorCode.DISCONNECTED, `the server closed the connection: ${event.code} ${event.reason}`))
        return
      }
      this.#scheduleReconnect()
    }
  }

  /**
   * @param {SocketLike} socket
   * @param {WelcomeFrame} frame
   */
  #welcome (socket, frame) {
    if (this.#session !== undefined && !frame.resumed) {
      // The server did not keep the session (expired, restarted): what was in flight is lost with it.
      this.#peer.end(new RpcError(RpcErrorCode.EXPIRED, 'the session expired; a new one began'))
      this.#peer = new Peer(this.#host)
    } else if (frame.moved === true) {
      // The same session on another server: its data came along, the calls in flight did not.
      this.#peer.end(new RpcError(RpcErrorCode.DISCONNECTED, 'the session moved to another server'))
      this.#peer = new Peer(this.#host)
    }
    this.#session = frame.session
    this.#token = frame.token
    // What the server takes: a bigger call fails here instead of closing the socket on every resend.
    if (frame.maxFrame !== undefined) this.#host.maxFrameBytes = frame.maxFrame
    this.#attempt = 0
    this.#peer.attach((text) => { socket.send(text) }, frame.ack)
    if (this.#options.module !== undefined && frame.module !== this.#options.module.hash) this.dispatchEvent(new Event('update'))
    this.dispatchEvent(new Event('connected'))
    const resolve = this.#onFirstWelcome
    this.#onFirstWelcome = null
    this.#onFirstFailure = null
    resolve?.(this)
  }

  /** @param {RpcError} error */
  #fail (error) {
    this.#closed = true
    this.#peer.end(error)
    const reject = this.#onFirstFailure
    this.#onFirstWelcome = null
    this.#onFirstFailure = null
    reject?.(error)
  }

  #scheduleReconnect () {
    const { initialDelay = 250, maxDelay = 10_000 } = this.#options.reconnect ?? {}
    // Doubling, capped, and up to half of it at random, so pages cut off together do not come back together.
    const delay = Math.min(maxDelay, initialDelay * 2 ** this.#attempt++)
    this.#retry = setTimeout(() => { this.#open() }, delay * (0.5 + Math.random() / 2))
  }
}

/**
 * Opens a session with the RPC server at `options.url`; resolves once it is established.
 * @param {ConnectOptions} options
 * @returns {Promise<RpcClient>}
 * @example const server = await connect({ url: 'ws://localhost:3000/rpc', functions: { confirm: (text) => window.confirm(text) } })
 */
export function connect (options) {
  return new RpcClient(options).start()
}
