/**
 * An RPC server without a framework: the function tables, the sessions, the
 * handshake of each WebSocket (`hello` → `welcome`, a new session or a
 * resumed one), and calls to many sessions at once. The Fastify plugin
 * (plugins/rpc.ts) gives it sockets, requests and a schema checker.
 */
import { functionTable, type BrowserFunction, type Checker, type ServerFunction } from './functions.js'
import { RpcError } from './browser/peer.js'
import sjson from 'secure-json-parse'
import { parseFrames, PROTOCOL_VERSION, RpcErrorCode, type Frame } from './browser/protocol.js'
import { RpcSession, type RpcConnection, type SessionHost } from './session.js'
import { SessionStore } from './sessions.js'

/** Options of an RPC server, every default applied (see plugins/rpc.ts for the defaults). */
export interface RpcServerSettings<Data, Request> {
  sessionTtl: number
  maxRetained: number
  timeout: number
  maxInFlight: number
  maxOutboxBytes: number
  /** The largest frame the socket takes, in bytes (its `maxPayload`): told to each page. */
  maxFrameBytes: number
  /** Calls a page may make per second; past it a call fails as overloaded. */
  maxCallsPerSecond: number
  /** The initial `data` of a new session. */
  data: (request: Request) => Data
  onBoot?: (session: RpcSession<Data, Request>) => unknown
  onResume?: (session: RpcSession<Data, Request>) => unknown
  onExpire?: (session: RpcSession<Data, Request>) => unknown
  /** Checks a value against a schema: the browser's results, server functions' params. */
  check: Checker<Request>
  /** Receives handler errors (with the session), hook errors and refused frames. */
  onError: (error: Error, session: RpcSession<Data, Request> | undefined) => void
  /** The hash of the browser-function module the server serves now. */
  moduleHash: () => string
}

/** One session's outcome of a call to many. */
export interface CallEntry<Session, Result> {
  session: Session
  status: 'ok' | 'error' | 'timeout' | 'disconnected' | 'invalid'
  value?: Result
  error?: RpcError
}

/** Options of `callAll()` and `callEach()`. */
export interface CallManyOptions<Session> {
  timeout?: number
  /** The sessions to call; default every session at the time of the call. */
  sessions?: Iterable<Session>
}

/** What the plugin hands each socket's frames and close to. */
export interface RpcSocket {
  receive: (text: string) => void
  closed: (code: number) => void
}

// Close codes of a page that went away on purpose (a closed tab, a navigation): its session ends at once.
export const PAGE_GONE: ReadonlySet<number> = new Set([1000, 1001])
// A frame that is not the protocol, or a handshake out of place.
const POLICY_VIOLATION = 1008
// The session was resumed by another socket (the same page's newer connection).
const RESUMED_ELSEWHERE = 4001

/**
 * An RPC server.
 * @example
 * const server = new RpcServer(settings)
 * const socket = server.connect({ send, close }, request, request.user?.id)
 * ws.on('message', (text) => socket.receive(String(text)))
 */
export class RpcServer<Data = Record<string, unknown>, Request = unknown> {
  readonly browserFunctions = functionTable<BrowserFunction>()
  readonly serverFunctions = functionTable<ServerFunction<RpcSession<Data, Request>>>()
  readonly sessions: SessionStore<RpcSession<Data, Request>>
  readonly #settings: RpcServerSettings<Data, Request>
  readonly #sessionHost: SessionHost<RpcSession<Data, Request>>

  constructor (settings: RpcServerSettings<Data, Request>) {
    this.#settings = settings
    this.#sessionHost = this.#makeSessionHost()
    this.sessions = new SessionStore(settings, (session) => { this.#hook(settings.onExpire, session) })
  }

  /** A new socket: its first frame must be a `hello`, which opens or resumes a session. */
  connect (connection: RpcConnection, request: Request, principal: string | undefined): RpcSocket {
    let session: RpcSession<Data, Request> | undefined
    const refuse = (message: string): void => {
      this.#settings.onError(new RpcError(RpcErrorCode.INVALID_PARAMS, message), session)
      connection.close(POLICY_VIOLATION, message)
    }
    return {
      receive: (text) => {
        const frames = parseFrames(text, parseSafely)
        if (frames === null) {
          refuse('not an RPC frame')
          return
        }
        for (const frame of frames) {
          if (session === undefined) {
            if (frame.t !== 'hello' || frame.v !== PROTOCOL_VERSION) {
              refuse(frame.t === 'hello' ? `protocol version ${frame.v} is not ${PROTOCOL_VERSION}` : 'the first frame must be a hello')
              return
            }
            session = this.#open(connection, request, principal, frame)
          } else if (!this.#receive(session, frame)) {
            refuse(`unexpected ${frame.t} frame`)
            return
          }
        }
      },
      closed: (code) => {
        if (session === undefined || session.expired) return
        session.detach(connection)
        // Resumed by a newer socket: nothing to keep or end.
        if (session.connected) return
        this.sessions.disconnected(session, PAGE_GONE.has(code))
      }
    }
  }

  /**
   * Calls `fn` in each target session; resolves with one entry per session,
   * never rejecting as a whole. Arguments are encoded once.
   * @example for (const { session, status, value } of await server.callAll(add, [1, 2])) console.log(session.id, status, value)
   */
  async callAll<Params extends unknown[], Result> (fn: BrowserFunction<Params, Result>, args: Params, options: CallManyOptions<RpcSession<Data, Request>> = {}): Promise<Array<CallEntry<RpcSession<Data, Request>, Result>>> {
    return await Promise.all(this.#callMany(fn, args, options))
  }

  /**
   * `callAll()` yielding each session's entry as it settles.
   * @example for await (const entry of server.callEach(add, [1, 2])) console.log(entry.session.id, entry.status)
   */
  async * callEach<Params extends unknown[], Result> (fn: BrowserFunction<Params, Result>, args: Params, options: CallManyOptions<RpcSession<Data, Request>> = {}): AsyncGenerator<CallEntry<RpcSession<Data, Request>, Result>> {
    const waiting = new Map(this.#callMany(fn, args, options).map((entry, index) => [index, entry.then((settled) => ({ index, settled }))]))
    while (waiting.size > 0) {
      const { index, settled } = await Promise.race(waiting.values())
      waiting.delete(index)
      yield settled
    }
  }

  /** Ends every session (the app closes). */
  close (): void {
    this.sessions.close(new RpcError(RpcErrorCode.DISCONNECTED, 'the server is shutting down'))
  }

  #callMany<Params extends unknown[], Result> (fn: BrowserFunction<Params, Result>, args: Params, options: CallManyOptions<RpcSession<Data, Request>>): Array<Promise<CallEntry<RpcSession<Data, Request>, Result>>> {
    // The targets are fixed now; the arguments are encoded once for all of them.
    const targets = [...(options.sessions ?? this.sessions.values())]
    const encoded = JSON.stringify(args)
    const callOptions = options.timeout === undefined ? {} : { timeout: options.timeout }
    return targets.map((session) => session.callEncoded(fn, encoded, callOptions).then(
      (value): CallEntry<RpcSession<Data, Request>, Result> => ({ session, status: 'ok', value }),
      (error: RpcError): CallEntry<RpcSession<Data, Request>, Result> => ({ session, status: entryStatus(error), error })
    ))
  }

  #open (connection: RpcConnection, request: Request, principal: string | undefined, hello: Extract<Frame, { t: 'hello' }>): RpcSession<Data, Request> {
    let session = hello.session === undefined || hello.token === undefined ? undefined : this.sessions.resume(hello.session, hello.token, principal)
    const resumed = session !== undefined
    if (session === undefined) {
      session = new RpcSession(this.#sessionHost, request, principal, this.#settings.data(request))
      this.sessions.add(session)
    } else {
      session.request = request
    }
    // The same session on a newer socket (a reload raced its own reconnect): the older one goes.
    const previous = session.connection
    if (previous !== null) {
      session.detach(previous)
      previous.close(RESUMED_ELSEWHERE, 'resumed by another connection')
    }
    connection.send(JSON.stringify({ t: 'welcome', session: session.id, token: session.rotateToken(), resumed, ack: session.received, module: this.#settings.moduleHash(), maxFrame: this.#settings.maxFrameBytes }))
    // A new session's page has sent nothing numbered yet; a resumed one gets what it lacks.
    session.attach(connection, resumed ? hello.ack : 0)
    this.#hook(resumed ? this.#settings.onResume : this.#settings.onBoot, session)
    return session
  }

  #receive (session: RpcSession<Data, Request>, frame: Frame): boolean {
    if (frame.t === 'bye') {
      this.sessions.expire(session, new RpcError(RpcErrorCode.DISCONNECTED, 'the page closed its session'))
      return true
    }
    return session.peer.receive(frame)
  }

  // What each session needs of the server: limits, server functions, result checks.
  #makeSessionHost (): SessionHost<RpcSession<Data, Request>> {
    const { timeout, maxInFlight, maxOutboxBytes, maxCallsPerSecond, check, onError } = this.#settings
    // Each page's calls in the current second (a fixed window: cheap, and enough to stop a flood).
    const windows = new WeakMap<RpcSession<Data, Request>, { start: number, calls: number }>()
    return {
      timeout,
      maxInFlight,
      maxOutboxBytes,
      defer: afterIo,
      run: async (name, args, context, session) => {
        const now = Date.now()
        let window = windows.get(session)
        if (window === undefined || now - window.start >= 1000) windows.set(session, window = { start: now, calls: 0 })
        if (++window.calls > maxCallsPerSecond) throw new RpcError(RpcErrorCode.OVERLOADED, `more than ${maxCallsPerSecond} calls in a second`)
        const fn = this.serverFunctions[name]
        if (fn === undefined) throw new RpcError(RpcErrorCode.NOT_FOUND, `no server function ${JSON.stringify(name)}`)
        const params = check(fn.params, args, `params of ${name}`, session.request)
        if (!params.valid) throw new RpcError(RpcErrorCode.INVALID_PARAMS, params.message)
        try {
          return await fn.handler(session, params.value as unknown[], context)
        } catch (error) {
          if (error instanceof RpcError) throw error
          // Details stay in the log: the page learns that the function failed, not how.
          onError(error as Error, session)
          throw new RpcError(RpcErrorCode.REMOTE, `server function ${name} failed`)
        }
      },
      checkResult: (session, fn, value) => check(fn.result, value, `result of ${fn.name}`, session.request)
    }
  }

  #hook (hook: ((session: RpcSession<Data, Request>) => unknown) | undefined, session: RpcSession<Data, Request>): void {
    if (hook === undefined) return
    try {
      Promise.resolve(hook(session)).catch((error: Error) => { this.#settings.onError(error, session) })
    } catch (error) {
      this.#settings.onError(error as Error, session)
    }
  }
}

// Every session's frames of one turn leave after the turn's I/O (its other results are in), in one setImmediate for all.
const flushes: Array<() => void> = []
function afterIo (flush: () => void): void {
  if (flushes.push(flush) === 1) setImmediate(flushAll)
}
function flushAll (): void {
  // A flush that sends may make another session's frames: they leave in this loop too.
  for (let index = 0; index < flushes.length; index++) (flushes[index] as () => void)()
  flushes.length = 0
}

// Arguments reach handlers as parsed: keys that could pollute a prototype are refused, as Fastify does for bodies.
function parseSafely (text: string): unknown {
  return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
}

function entryStatus (error: RpcError): 'error' | 'timeout' | 'disconnected' | 'invalid' {
  switch (error.code) {
    case RpcErrorCode.TIMEOUT: return 'timeout'
    case RpcErrorCode.DISCONNECTED:
    case RpcErrorCode.EXPIRED: return 'disconnected'
    case RpcErrorCode.INVALID_RESULT: return 'invalid'
    default: return 'error'
  }
}
