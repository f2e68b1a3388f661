/**
 * A page's RPC session on the server: its id, its data, the secret that
 * resumes it, and its Peer, which outlives each WebSocket (a reconnect
 * resumes the same session and its calls in flight).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { Peer, RpcError, type CallContext, type CallOptions, type PeerHost } from './browser/peer.js'
import { kStartCall, kTokenHash } from '../symbols.js'
import type { BrowserFunction, Check } from './functions.js'
import { RpcErrorCode } from './browser/protocol.js'

/** How a page's connection reaches the server: a WebSocket, or an SSE stream down and POSTs up. */
export type RpcTransport = 'websocket' | 'sse'

/** Where a session's frames go while it is connected. */
export interface RpcConnection {
  /** Sends a message; `top` is the highest frame number in it (0 or none: no numbered frame). */
  send: (text: string, top?: number) => void
  close: (code: number, reason: string) => void
  /** What carries it. Default `'websocket'`. */
  readonly transport?: RpcTransport
}

/** What the plugin hands each socket's frames and close to. */
export interface RpcSocket {
  receive: (text: string) => void
  closed: (code: number) => void
}

/** What a session needs from its server (one object for all sessions: `run` gets the session). */
export interface SessionHost<S> extends PeerHost {
  /** Runs a server function the page called. */
  run: (fn: string, args: unknown[], context: CallContext, session: S) => Promise<unknown>
  /** Checks a browser's result against its function's `result` schema. */
  checkResult: (session: S, fn: BrowserFunction, value: unknown) => Check
}

// 32 random bytes: the resume token, kept only as its SHA-256.
const TOKEN_BYTES = 32
// A call without options shares this one (no object per call).
const NO_OPTIONS: CallOptions = Object.freeze({})

/**
 * A secret as the server keeps it: its SHA-256.
 * @example const kept = hashSecret(token)
 */
export function hashSecret (secret: string): Buffer {
  return createHash('sha256').update(secret).digest()
}

/**
 * True when `secret` is the one `hash` was made from (compared in constant time).
 * @example secretMatches(hashSecret('s3cret'), 's3cret') // true
 */
export function secretMatches (hash: Buffer, secret: string): boolean {
  const presented = hashSecret(secret)
  return hash.length === presented.length && timingSafeEqual(hash, presented)
}

/**
 * One page's session.
 * @example const sum = await session.call(add, [1, 2], { timeout: 5000 })
 */
export class RpcSession<Data = Record<string, unknown>, Request = unknown> {
  /** The session id (not a secret: resuming needs the token too). */
  readonly id: string
  /** Who the auth hooks said the page's user is, when the session began (a resume by another is refused). */
  readonly principal: string | undefined
  /** Per-session state (OMG's session variables). */
  data: Data
  /** The request of the current (or last) connection: its cookies, its user. */
  request: Request
  readonly #peer: Peer
  readonly #host: SessionHost<RpcSession<Data, Request>>
  #tokenHash: Buffer = Buffer.alloc(0)
  #connection: RpcConnection | null = null
  #transport: RpcTransport = 'websocket'
  #expired = false

  /** `id`: a session resumed from another node keeps its id. */
  constructor (host: SessionHost<RpcSession<Data, Request>>, request: Request, principal: string | undefined, data: Data, id = randomBytes(16).toString('base64url')) {
    this.id = id
    this.#host = host
    this.#peer = new Peer(host, this)
    this.request = request
    this.principal = principal
    this.data = data
  }

  /** The socket that carries the session now, or null. */
  get connection (): RpcConnection | null {
    return this.#connection
  }

  /** True while a connection (a WebSocket, or an SSE stream) carries the session. */
  get connected (): boolean {
    return this.#connection !== null
  }

  /**
   * What carries the current (or last) connection: `'websocket'` or `'sse'` (the page's fallback).
   * @example if (session.transport === 'sse') app.log.info({ session: session.id }, 'no WebSocket for this page')
   */
  get transport (): RpcTransport {
    return this.#transport
  }

  /** True once the session has ended (its pending calls rejected). */
  get expired (): boolean {
    return this.#expired
  }

  /** Calls waiting for the browser's answer. */
  get pending (): number {
    return this.#peer.pending
  }

  /**
   * Calls `fn` in this session's page with `args`; resolves with its result,
   * checked against `fn.result`, or rejects with an `RpcError`.
   * @example const ok = await session.call(confirm, ['Delete?'], { timeout: 30_000 })
   */
  call<Params extends unknown[], Result> (fn: BrowserFunction<Params, Result>, args: Params, options?: CallOptions): Promise<Result> {
    let encoded: string
    try {
      encoded = JSON.stringify(args)
    } catch (error) {
      // Arguments that are not JSON (a cycle, a BigInt): the call fails, it does not throw.
      return Promise.reject(error)
    }
    return new Promise((resolve, reject) => {
      this[kStartCall](fn, encoded, options ?? NO_OPTIONS, (error, value) => { if (error === undefined) resolve(value as Result); else reject(error) })
    })
  }

  /** `call()` with the arguments already JSON (encoded once for many sessions); `settle` hears the checked outcome once. */
  [kStartCall]<Result> (fn: BrowserFunction<unknown[], Result>, encodedArgs: string, options: CallOptions, settle: (error: RpcError | undefined, value?: Result) => void): void {
    this.#peer.start(fn.name, encodedArgs, options, (error, value) => {
      if (error !== undefined) return settle(error)
      const check = this.#host.checkResult(this, fn as BrowserFunction, value)
      if (!check.valid) settle(new RpcError(RpcErrorCode.INVALID_RESULT, `the browser's result of ${fn.name} is invalid: ${check.message}`))
      else settle(undefined, check.value as Result)
    })
  }

  /** A new secret for the next resume (the old one stops working). */
  rotateToken (): string {
    const token = randomBytes(TOKEN_BYTES).toString('base64url')
    this.#tokenHash = hashSecret(token)
    return token
  }

  /** The hex SHA-256 of the current token (what a session's record across nodes keeps). */
  get [kTokenHash] (): string {
    return this.#tokenHash.toString('hex')
  }

  /** True when `token` is this session's (compared in constant time). */
  tokenMatches (token: string): boolean {
    return secretMatches(this.#tokenHash, token)
  }

  /** A socket carries the session from now on; `peerReceived` is what the page has. */
  attach (connection: RpcConnection, peerReceived: number): void {
    this.#connection = connection
    this.#transport = connection.transport ?? 'websocket'
    this.#peer.attach(connection.send, peerReceived)
  }

  /** The socket is gone; frames wait for the next one. */
  detach (connection: RpcConnection): void {
    if (this.#connection !== connection) return
    this.#connection = null
    this.#peer.detach()
  }

  /** The peer (internal: the server hands it the frames). */
  get peer (): Peer {
    return this.#peer
  }

  /** The last frame number received from the page. */
  get received (): number {
    return this.#peer.received
  }

  /** Ends the session: pending calls reject with `reason`, its socket (if any) is closed. */
  expire (reason: RpcError, closeCode = 1000): void {
    if (this.#expired) return
    this.#expired = true
    this.#peer.end(reason)
    const connection = this.#connection
    this.#connection = null
    connection?.close(closeCode, reason.message.slice(0, 120))
  }
}
