/**
 * The server side of RPC without WebSocket: a page's connection is an event
 * stream down, opened by a request whose body is the page's `hello`, and POSTs
 * of frames up, each naming its connection by session id and key (a random
 * secret of this connection, told to the page in its welcome). To the RPC
 * server it is one more `RpcConnection`: the same messages, the same
 * sessions. Framework-free: the plugin hands it request bodies and streams.
 */
import { randomBytes } from 'node:crypto'
import { encodeEvent } from '../sse/format.js'
import { isOriginAllowed, type OriginPolicy } from '../websocket/origin.js'
import { ABNORMAL, PAGE_GONE, POLICY_VIOLATION } from './close-codes.js'
import { hashSecret, secretMatches, type RpcConnection, type RpcSocket } from './session.js'
import { deferred } from '../deferred.js'

export { SSE_HEADERS } from './browser/sse-transport.js'

/** What a connection writes to: an event stream (`SSEStream` has it). */
export interface RpcEventStream {
  write: (encoded: string) => unknown
  close: () => void
  onClose: (handler: () => void) => void
}

/** What a POST of frames comes to: `'ok'`, no such connection, or a frame refused (the connection is closed with 1008). */
export type PostOutcome = 'ok' | 'unknown' | 'refused'

/** A POST of frames: its connection's headers, its body, the close code it carries. */
export interface FramesPost {
  session: string | undefined
  key: string | undefined
  principal: string | undefined
  body: string | undefined
  close: number | undefined
}

// The key of a connection: 32 random bytes, kept only as its SHA-256.
const KEY_BYTES = 32

/**
 * One page's connection over a stream and POSTs. Messages sent before the
 * stream is attached (the welcome, what a resume sends again) wait for it.
 */
export class StreamConnection implements RpcConnection {
  readonly transport = 'sse' as const
  /** The page's principal when the stream opened: a POST from another is not this connection's. */
  readonly principal: string | undefined
  readonly #keyHash: Buffer
  #key: string | undefined
  #socket: RpcSocket | undefined
  #session: string | undefined
  #stream: RpcEventStream | null = null
  #early: string[] | null = []
  #closed: { code: number, reason: string } | undefined
  // Settles once the welcome went out or the connection ended (a resume from another node is welcomed later).
  readonly #settled = deferred()

  constructor (principal: string | undefined) {
    this.principal = principal
    this.#key = randomBytes(KEY_BYTES).toString('base64url')
    this.#keyHash = hashSecret(this.#key)
  }

  /** The session id, once welcomed. */
  get session (): string | undefined {
    return this.#session
  }

  /** Resolves once the page is welcomed or the connection ended. */
  get settled (): Promise<void> {
    return this.#settled.promise
  }

  /** How the connection ended (a server close, the stream's end, the page's close), once it has. */
  get closed (): { code: number, reason: string } | undefined {
    return this.#closed
  }

  /** The RPC server's side of this connection (internal). */
  get socket (): RpcSocket | undefined {
    return this.#socket
  }

  set socket (socket: RpcSocket | undefined) {
    this.#socket = socket
  }

  /**
   * True when `key` is this connection's (compared in constant time).
   * @example if (!connection.keyMatches(request.headers['x-rpc-key'])) return 'unknown'
   */
  keyMatches (key: string): boolean {
    return secretMatches(this.#keyHash, key)
  }

  send = (text: string, top?: number): void => {
    if (this.#closed !== undefined) return
    let data = text
    if (this.#session === undefined) {
      // The first message is the welcome: it names the session, and tells the page this connection's key, once.
      const welcome = JSON.parse(text) as { session: string }
      this.#session = welcome.session
      data = JSON.stringify({ ...welcome, key: this.#key })
      this.#key = undefined
      this.#settled.resolve()
    }
    // JSON has no line breaks: one data line, the id the highest frame number (what the page has once it read it).
    this.#write(encodeEvent(top === undefined || top === 0 ? { data } : { id: String(top), data }))
  }

  close = (code: number, reason: string): void => {
    if (this.#closed !== undefined) return
    // The page's transport reads the close as a WebSocket close: the same codes (1008, 4001, 1000).
    this.#write(encodeEvent({ event: 'close', data: JSON.stringify({ code, reason }) }))
    this.#end(code, reason)
  }

  /**
   * The response's stream: what waited is written now; its end ends the connection.
   * @example opened.connection.attach(reply.sse())
   */
  attach (stream: RpcEventStream): void {
    const early = this.#early ?? []
    this.#early = null
    this.#stream = stream
    for (const encoded of early) stream.write(encoded)
    stream.onClose(() => { this.#end(ABNORMAL, 'the stream ended') })
    if (this.#closed !== undefined) stream.close()
  }

  /**
   * The page closed the connection (its POST's close code): as a WebSocket's close from the page.
   * @example connection.closeFromPage(1001)
   */
  closeFromPage (code: number): void {
    this.#end(code, 'closed by the page')
  }

  #write (encoded: string): void {
    if (this.#stream !== null) this.#stream.write(encoded)
    else this.#early?.push(encoded)
  }

  #end (code: number, reason: string): void {
    if (this.#closed !== undefined) return
    this.#closed = { code, reason }
    this.#settled.resolve()
    this.#early = null
    const stream = this.#stream
    this.#stream = null
    stream?.close()
    // Later, as a WebSocket's close event comes: a server closing it from within a handshake sees it after.
    const socket = this.#socket
    if (socket !== undefined) queueMicrotask(() => { socket.closed(code) })
  }
}

/**
 * The SSE connections of an RPC server, by session: the newest of each.
 * @example
 * const opened = await streams.open(helloText, principal, (connection) => server.connect(connection, request, principal))
 * if ('connection' in opened) opened.connection.attach(reply.sse())
 */
export class RpcStreams {
  readonly #bySession = new Map<string, StreamConnection>()

  /** Connections kept (one per session with a stream, until the session ends). */
  get size (): number {
    return this.#bySession.size
  }

  /**
   * Opens a connection with the `hello` a stream request carries; `connect`
   * hands it to the RPC server. Returns the connection, to attach its
   * response's stream to, or why the hello was refused (nothing to stream).
   * @example const opened = await streams.open('{"t":"hello","v":1,"ack":0}', undefined, (connection) => server.connect(connection, request, undefined))
   */
  async open (hello: string, principal: string | undefined, connect: (connection: StreamConnection) => RpcSocket): Promise<{ connection: StreamConnection } | { refused: string }> {
    const connection = new StreamConnection(principal)
    connection.socket = connect(connection)
    connection.socket.receive(hello)
    // Welcomed now, or once another node's session is claimed (sessions across nodes).
    await connection.settled
    const session = connection.session
    if (session === undefined) return { refused: connection.closed?.reason ?? 'the first frame must be a hello' }
    this.#bySession.set(session, connection)
    return { connection }
  }

  /**
   * A POST of frames: its body goes to its connection's session in order, its
   * close code (if any) ends the connection.
   * @example streams.post({ session, key, principal, body: '{"t":"ack","ack":3}', close: undefined }) // 'ok'
   */
  post (post: FramesPost): PostOutcome {
    const connection = post.session === undefined ? undefined : this.#bySession.get(post.session)
    if (connection === undefined || post.key === undefined || !connection.keyMatches(post.key) || connection.principal !== post.principal) return 'unknown'
    const socket = connection.socket as RpcSocket
    if (connection.closed !== undefined) {
      // A page that leaves (its pagehide) after its stream dropped: its session ends now, as a 1001 close would.
      if (post.close === undefined || !PAGE_GONE.has(post.close)) return 'unknown'
      if (connection.closed.code === ABNORMAL) socket.closed(post.close)
      return 'ok'
    }
    if (post.body !== undefined && post.body !== '') {
      socket.receive(post.body)
      // The server refused a frame: it closed the connection with 1008 while reading it.
      if ((connection.closed as { code: number } | undefined)?.code === POLICY_VIOLATION) return 'refused'
    }
    if (post.close !== undefined) connection.closeFromPage(post.close)
    return 'ok'
  }

  /**
   * The session ended: its connection is forgotten.
   * @example onExpire: (session) => { streams.forget(session.id) }
   */
  forget (session: string): void {
    this.#bySession.delete(session)
  }
}

/**
 * Whether a POST passes the origin policy of the socket: its Origin (which
 * browsers send with every POST) or, without one, its `Sec-Fetch-Site`.
 * @example fromAllowedOrigin({ origin: 'https://evil.test' }, 'https://app.test', 'same-origin') // false
 */
export function fromAllowedOrigin (headers: { origin?: string | undefined, 'sec-fetch-site'?: string | string[] | undefined }, serverOrigin: string, policy: OriginPolicy): boolean {
  if (headers.origin === undefined && policy !== false && headers['sec-fetch-site'] === 'cross-site') return false
  return isOriginAllowed(headers.origin, serverOrigin, policy)
}
