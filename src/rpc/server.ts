/**
 * An RPC server without a framework: the function tables, the sessions, the
 * handshake of each WebSocket (`hello` → `welcome`, a new session or a
 * resumed one), and calls to many sessions at once. The Fastify plugin
 * (plugins/rpc.ts) gives it sockets, requests and a schema checker.
 */
import { functionTable, type BrowserFunction, type Checker, type ServerFunction } from './functions.js'
import { callTimeout, RpcError } from './browser/peer.js'
import { parseUntrustedJson } from '../websocket/message.js'
import { parseFrames, PROTOCOL_VERSION, RpcErrorCode, type Frame } from './browser/protocol.js'
import { RpcSession, type RpcConnection, type RpcSocket, type SessionHost } from './session.js'
import { PAGE_GONE, POLICY_VIOLATION, RESUMED_ELSEWHERE, SERVICE_RESTART } from './close-codes.js'
import { SessionStore } from './sessions.js'
import { RpcNodes, type LocalNode, type ManyRequest, type SessionRecord, type WireEntry } from './nodes.js'
import { RemoteSession } from './remote-session.js'
import type { ClusterNode } from '../cluster/node.js'
import type { SharedStore } from '../cluster/store.js'
import type { FramesPost, PostOutcome } from './sse.js'
import { kStartCall, kTokenHash } from '../symbols.js'

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
  /** Hears every session that ends on this node, moved to another node or not (what the plugin keeps per session goes). */
  onEnded?: (session: RpcSession<Data, Request>) => void
  /** Checks a value against a schema: the browser's results, server functions' params. */
  check: Checker<Request>
  /** Receives handler errors (with the session), hook errors and refused frames. */
  onError: (error: Error, session: RpcSession<Data, Request> | undefined) => void
  /** The hash of the browser-function module the server serves now. */
  moduleHash: () => string
  /** Nodes: this node of the cluster and the store the nodes share (sessions span nodes). */
  cluster?: { node: ClusterNode, store: SharedStore }
  /** Applies a POST of frames of the SSE transport to a connection of this node (one another node forwarded). */
  postFrames?: (post: FramesPost) => PostOutcome
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
  /** The sessions to call; default every session (of every node) at the time of the call. */
  sessions?: Iterable<Session | RemoteSession>
}

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
  readonly #nodes: RpcNodes | undefined
  readonly #refresh: ReturnType<typeof setInterval> | undefined
  // The app is closing: sockets that close now do not end their sessions (close() decides).
  #shuttingDown = false

  constructor (settings: RpcServerSettings<Data, Request>) {
    this.#settings = settings
    this.#sessionHost = this.#makeSessionHost()
    this.sessions = new SessionStore(settings, (session, moved) => {
      settings.onEnded?.(session)
      // A session that moved lives on in another node: no onExpire here, and its record is that node's.
      if (moved) return
      this.#hook(settings.onExpire, session)
      this.#nodes?.forget(session.id).catch(this.#report)
    })
    if (settings.cluster !== undefined) {
      this.#nodes = new RpcNodes(settings.cluster.node, settings.cluster.store, settings.sessionTtl, this.#localNode())
      // The records of this node's sessions live while it does (a third of their life between refreshes).
      this.#refresh = setInterval(() => {
        this.#nodes?.refresh([...this.sessions.values()].map((session) => session.id)).catch(this.#report)
      }, Math.max(1000, Math.floor(settings.sessionTtl / 3)))
      this.#refresh.unref()
    }
  }

  /**
   * The session with this id: this node's, or with nodes, a handle whose
   * calls go to the node that holds it (undefined: no such session here, and no nodes).
   * @example await server.session(id)?.call(add, [1, 2])
   */
  session (id: string): RpcSession<Data, Request> | RemoteSession | undefined {
    const local = this.sessions.get(id)
    if (local !== undefined || this.#nodes === undefined) return local
    return new RemoteSession(id, undefined, this.#nodes, this.#settings.timeout)
  }

  /** A new socket: its first frame must be a `hello`, which opens or resumes a session. */
  connect (connection: RpcConnection, request: Request, principal: string | undefined): RpcSocket {
    let session: RpcSession<Data, Request> | undefined
    // A resume from another node: its record is being read.
    let claiming = false
    let gone = false
    const refuse = (message: string): void => {
      this.#settings.onError(new RpcError(RpcErrorCode.INVALID_PARAMS, message), session)
      connection.close(POLICY_VIOLATION, message)
    }
    const open = (hello: Extract<Frame, { t: 'hello' }>, record?: SessionRecord): void => {
      claiming = false
      if (!gone) session = this.#open(connection, request, principal, hello, record)
    }
    return {
      receive: (text) => {
        // Arguments reach handlers as parsed: keys that could pollute a prototype are refused, as Fastify does for bodies.
        const frames = parseFrames(text, parseUntrustedJson)
        if (frames === null) {
          refuse('not an RPC frame')
          return
        }
        for (const frame of frames) {
          if (session === undefined) {
            if (claiming || frame.t !== 'hello' || frame.v !== PROTOCOL_VERSION) {
              refuse(frame.t === 'hello' && !claiming ? `protocol version ${frame.v} is not ${PROTOCOL_VERSION}` : 'the first frame must be a hello, alone')
              return
            }
            const nodes = this.#nodes
            if (nodes === undefined || frame.session === undefined || frame.token === undefined || this.sessions.get(frame.session) !== undefined) {
              open(frame)
              continue
            }
            // Not a session of this node: maybe another node's, whose page reconnected here.
            claiming = true
            nodes.claim(frame.session, frame.token, principal).then((record) => { open(frame, record) }, (error: Error) => {
              this.#report(error)
              open(frame)
            })
            return
          } else if (!this.#receive(session, frame)) {
            refuse(`unexpected ${frame.t} frame`)
            return
          }
        }
      },
      closed: (code) => {
        gone = true
        if (session === undefined || session.expired) return
        session.detach(connection)
        // Resumed by a newer socket: nothing to keep or end.
        if (session.connected) return
        this.sessions.disconnected(session, PAGE_GONE.has(code) && !this.#shuttingDown)
        if (!session.expired) this.#save(session, false)
      }
    }
  }

  /**
   * Calls `fn` in each target session (with nodes, every node's); resolves
   * with one entry per session, never rejecting as a whole: this node's
   * sessions first, in order, then the others' as their nodes answered.
   * Arguments are encoded once.
   * @example for (const { session, status, value } of await server.callAll(add, [1, 2])) console.log(session.id, status, value)
   */
  async callAll<Params extends unknown[], Result> (fn: BrowserFunction<Params, Result>, args: Params, options: CallManyOptions<RpcSession<Data, Request>> = {}): Promise<Array<CallEntry<RpcSession<Data, Request> | RemoteSession, Result>>> {
    const local: Array<CallEntry<RpcSession<Data, Request>, Result>> = []
    const remote: Array<CallEntry<RemoteSession, Result>> = []
    await this.#callEverywhere(fn, args, options, (entry, index) => {
      if (index === undefined) remote.push(entry as CallEntry<RemoteSession, Result>)
      else local[index] = entry as CallEntry<RpcSession<Data, Request>, Result>
    })
    return [...local, ...remote]
  }

  /**
   * `callAll()` yielding each session's entry as it settles (another node's
   * entries when that node answers).
   * @example for await (const entry of server.callEach(add, [1, 2])) console.log(entry.session.id, entry.status)
   */
  async * callEach<Params extends unknown[], Result> (fn: BrowserFunction<Params, Result>, args: Params, options: CallManyOptions<RpcSession<Data, Request>> = {}): AsyncGenerator<CallEntry<RpcSession<Data, Request> | RemoteSession, Result>> {
    // A bad timeout fails the first next(), as it fails callAll(): nothing is sent.
    this.#timeoutOf(fn, options)
    const settled: Array<CallEntry<RpcSession<Data, Request> | RemoteSession, Result>> = []
    let wake: (() => void) | undefined
    let done = false
    this.#callEverywhere(fn, args, options, (entry) => {
      settled.push(entry)
      wake?.()
    }, true).finally(() => {
      done = true
      wake?.()
    }).catch(this.#report)
    while (true) {
      if (settled.length === 0) {
        if (done) return
        await new Promise<void>((resolve) => { wake = resolve })
        wake = undefined
        continue
      }
      yield settled.shift() as CallEntry<RpcSession<Data, Request> | RemoteSession, Result>
    }
  }

  /**
   * A POST of frames for a connection this node does not hold: with nodes,
   * handed to the node that does.
   * @example const outcome = await server.forwardFrames(post)
   */
  async forwardFrames (post: FramesPost): Promise<PostOutcome> {
    return await this.#nodes?.forwardFrames(post) ?? 'unknown'
  }

  /** The app begins to close: sockets the WebSocket layer closes now do not end their sessions. */
  shutdown (): void {
    this.#shuttingDown = true
  }

  /**
   * Ends every session of this node (the app closes). With nodes, each
   * session's record is saved first and its page told to reconnect: it
   * resumes on another node (no `onExpire` here).
   */
  async close (): Promise<void> {
    const nodes = this.#nodes
    if (nodes === undefined) {
      this.sessions.close(new RpcError(RpcErrorCode.DISCONNECTED, 'the server is shutting down'))
      return
    }
    clearInterval(this.#refresh)
    await nodes.close()
    const sessions = [...this.sessions.values()]
    await Promise.all(sessions.map((session) => this.#saveNow(session, false).catch(this.#report)))
    for (const session of sessions) this.sessions.expire(session, new RpcError(RpcErrorCode.DISCONNECTED, 'the node is shutting down'), { closeCode: SERVICE_RESTART })
  }

  // Calls the targets: this node's at once (`each` gets their index), then the other nodes' (their entries sent
  // `ahead` as they settle there, for callEach). Resolves once every entry is in.
  async #callEverywhere<Result> (fn: BrowserFunction<unknown[], Result>, args: unknown[], options: CallManyOptions<RpcSession<Data, Request>>, each: (entry: CallEntry<RpcSession<Data, Request> | RemoteSession, Result>, index?: number) => void, ahead = false): Promise<void> {
    // The targets are fixed now; the arguments are encoded once for all of them.
    const encoded = JSON.stringify(args)
    const timeout = this.#timeoutOf(fn, options)
    const nodes = this.#nodes
    const local: Array<RpcSession<Data, Request>> = []
    const remote: RemoteSession[] = []
    if (options.sessions === undefined) local.push(...this.sessions.values())
    else {
      for (const session of options.sessions) {
        if (session instanceof RemoteSession) remote.push(session)
        else local.push(session)
      }
    }
    const localDone = new Promise<void>((resolve) => {
      let settled = 0
      const total = local.length
      if (total === 0) resolve()
      this.#callLocal(fn, encoded, timeout, local, (index, entry) => {
        each(entry, index)
        if (++settled === total) resolve()
      })
    })
    if (nodes === undefined) {
      await localDone
      return
    }
    // node → the session ids asked there (undefined: all of its sessions).
    const targets = new Map<string, string[] | undefined>()
    const sessionsById = new Map<string, RemoteSession>()
    if (options.sessions === undefined) {
      for (const node of nodes.cluster.nodes) if (node !== nodes.id) targets.set(node, undefined)
    } else {
      for (const session of remote) {
        const node = session.node ?? await nodes.locate(session.id).catch(() => undefined)
        if (node === undefined) {
          each({ session, status: 'disconnected', error: new RpcError(RpcErrorCode.EXPIRED, `no node holds session ${session.id}`) })
          continue
        }
        sessionsById.set(session.id, session)
        const ids = targets.get(node) ?? []
        ids.push(session.id)
        targets.set(node, ids)
      }
    }
    const remoteDone = nodes.callMany({ fn: fn.name, args: encoded, timeout }, targets, (node, entries) => {
      for (const wire of entries) {
        const session = sessionsById.get(wire.id) ?? new RemoteSession(wire.id, node, nodes, this.#settings.timeout)
        each(wire.error === undefined
          ? { session, status: wire.status, value: wire.value as Result }
          : { session, status: wire.status, error: new RpcError(wire.error.code, wire.error.message) })
      }
    }, ahead)
    await Promise.all([localDone, remoteDone])
  }

  // The timeout of a call to many, in whole ms; throws an RpcError (invalid params) for one no call could carry.
  #timeoutOf (fn: BrowserFunction<unknown[], unknown>, options: CallManyOptions<RpcSession<Data, Request>>): number {
    const timeout = callTimeout(options.timeout ?? this.#settings.timeout, fn.name)
    if (timeout instanceof RpcError) throw timeout
    return timeout
  }

  // Calls this node's `targets`; `each` hears each one's entry (with its index among the targets) once, maybe at once.
  #callLocal<Result> (fn: BrowserFunction<unknown[], Result>, encoded: string, timeout: number, targets: Array<RpcSession<Data, Request>>, each: (index: number, entry: CallEntry<RpcSession<Data, Request>, Result>) => void): void {
    const callOptions = { timeout }
    targets.forEach((session, index) => {
      session[kStartCall](fn, encoded, callOptions, (error, value) => {
        each(index, error === undefined ? { session, status: 'ok', value } : { session, status: entryStatus(error), error })
      })
    })
  }

  // What the other nodes ask of this one.
  #localNode (): LocalNode {
    const declared = (name: string): BrowserFunction => {
      const fn = this.browserFunctions[name]
      if (fn === undefined) throw new RpcError(RpcErrorCode.NOT_FOUND, `no browser function ${JSON.stringify(name)} on this node`)
      return fn
    }
    return {
      call: (id, name, args, timeout) => new Promise((resolve, reject) => {
        const session = this.sessions.get(id)
        if (session === undefined) throw new RpcError(RpcErrorCode.EXPIRED, `session ${id} is not on this node`)
        session[kStartCall](declared(name), args, { timeout }, (error, value) => { if (error === undefined) resolve(value); else reject(error) })
      }),
      callMany: (request: ManyRequest, each) => new Promise<WireEntry[]>((resolve) => {
        const entries: WireEntry[] = []
        const found: Array<RpcSession<Data, Request>> = []
        for (const id of request.sessions ?? [...this.sessions.values()].map((session) => session.id)) {
          const session = this.sessions.get(id)
          if (session === undefined) entries.push({ id, status: 'disconnected', error: { code: RpcErrorCode.EXPIRED, message: `session ${id} is not on this node` } })
          else found.push(session)
        }
        let fn: BrowserFunction
        try {
          fn = declared(request.fn)
        } catch (error) {
          const { code, message } = error as RpcError
          resolve([...entries, ...found.map((session): WireEntry => ({ id: session.id, status: 'error', error: { code, message } }))])
          return
        }
        let settled = 0
        if (found.length === 0) resolve(entries)
        this.#callLocal(fn, request.args, request.timeout, found, (_index, entry) => {
          const wire: WireEntry = { id: entry.session.id, status: entry.status, value: entry.value, error: entry.error === undefined ? undefined : { code: entry.error.code, message: entry.error.message } }
          entries.push(wire)
          each(wire)
          if (++settled === found.length) resolve(entries)
        })
      }),
      postFrames: (post) => this.#settings.postFrames?.(post) ?? 'unknown',
      release: (id) => {
        const session = this.sessions.get(id)
        if (session === undefined) return undefined
        const data = session.data
        this.sessions.expire(session, new RpcError(RpcErrorCode.DISCONNECTED, 'the session moved to another node'), { closeCode: RESUMED_ELSEWHERE })
        return data
      }
    }
  }

  // Writes a session's record for the other nodes (its token's hash, its data); errors are reported, never thrown.
  #save (session: RpcSession<Data, Request>, opened: boolean): void {
    this.#saveNow(session, opened).catch(this.#report)
  }

  async #saveNow (session: RpcSession<Data, Request>, opened: boolean): Promise<void> {
    await this.#nodes?.save(session.id, { principal: session.principal, token: session[kTokenHash], data: session.data }, opened)
  }

  readonly #report = (error: Error): void => {
    this.#settings.onError(error, undefined)
  }

  // Opens a new session, resumes one of this node's, or (with `record`) one another node had.
  #open (connection: RpcConnection, request: Request, principal: string | undefined, hello: Extract<Frame, { t: 'hello' }>, record?: SessionRecord): RpcSession<Data, Request> {
    let session = hello.session === undefined || hello.token === undefined ? undefined : this.sessions.resume(hello.session, hello.token, principal)
    // Two hellos raced with the same token: the first claim took the session here; the second starts a new one.
    if (session === undefined && record !== undefined && this.sessions.get(hello.session as string) !== undefined) record = undefined
    const resumed = session !== undefined || record !== undefined
    if (session === undefined) {
      // From another node: the same id and data; frames are numbered afresh (the page is told: `moved`).
      session = new RpcSession(this.#sessionHost, request, principal, record === undefined ? this.#settings.data(request) : record.data as Data, record === undefined ? undefined : hello.session)
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
    const moved = record === undefined ? undefined : true
    connection.send(JSON.stringify({ t: 'welcome', session: session.id, token: session.rotateToken(), resumed, moved, ack: session.received, module: this.#settings.moduleHash(), maxFrame: this.#settings.maxFrameBytes }))
    // A new session's page has sent nothing numbered yet; a resumed one gets what it lacks.
    session.attach(connection, resumed && record === undefined ? hello.ack : 0)
    this.#save(session, true)
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

function entryStatus (error: RpcError): 'error' | 'timeout' | 'disconnected' | 'invalid' {
  switch (error.code) {
    case RpcErrorCode.TIMEOUT: return 'timeout'
    case RpcErrorCode.DISCONNECTED:
    case RpcErrorCode.EXPIRED: return 'disconnected'
    case RpcErrorCode.INVALID_RESULT: return 'invalid'
    default: return 'error'
  }
}
