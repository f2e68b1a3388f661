/**
 * `fastify-datastar/rpc`: the server calls functions in the browser and
 * gets their results; the browser calls the server's declared functions;
 * one session per page survives reconnects (after Common Lisp's OMG).
 *
 * @example
 * await app.register(rpc, { prefix: '/rpc' })
 * const add = app.rpc.browserFunction('add', { params: Type.Tuple([Type.Number(), Type.Number()]), result: Type.Number() }, (a, b) => a + b)
 * app.rpc.serverFunction('greet', { params: Type.Tuple([Type.String()]), result: Type.String() }, async (session, name) => `hello ${name}`)
 * const results = await app.rpc.callAll(add, [1, 2])
 */
import { readFileSync } from 'node:fs'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify'
import type { Static, TSchema } from '@sinclair/typebox'
import {
  FST_ERR_RPC_DUPLICATE_FUNCTION,
  FST_ERR_RPC_INVALID_OPTION,
  FST_ERR_RPC_INVALID_REQUEST,
  FST_ERR_RPC_ORIGIN_FORBIDDEN,
  FST_ERR_RPC_UNKNOWN_CONNECTION
} from '../src/errors.js'
import { browserFunctionSource, renderBrowserModule } from '../src/rpc/browser-module.js'
import type { BrowserFunction } from '../src/rpc/functions.js'
import { RpcServer, type CallEntry, type CallManyOptions } from '../src/rpc/server.js'
import type { RpcSession, RpcSocket } from '../src/rpc/session.js'
import type { RemoteSession } from '../src/rpc/remote-session.js'
import { closeBackplaneOnce, hasEphemeral, type Backplane } from '../src/registry/backplane.js'
import { ClusterNode } from '../src/cluster/node.js'
import type { SharedStore } from '../src/cluster/store.js'
import { fromAllowedOrigin, RpcStreams, SSE_HEADERS } from '../src/rpc/sse.js'
import { DEFAULT_MAX_BUFFERED_BYTES } from '../src/slow-consumer.js'
import type { StreamSettings } from '../src/sse/options.js'
import { resolveResourceOptions, RESOURCE_DEFAULTS, type ResourceOptions } from '../src/websocket/options.js'
import { sse } from './sse.js'
import { compileValidator } from './validation.js'
import { websocket } from './websocket.js'

/** A session of a page, as the plugin's hooks and functions see it. */
export type Session<Data = Record<string, unknown>> = RpcSession<Data, FastifyRequest>

/** Options of the RPC plugin. */
export interface RpcPluginOptions<Data = Record<string, unknown>> {
  /** Where the client module (`<prefix>/client.js`) and the socket (`<prefix>/socket`) are served. Default `/rpc`. */
  prefix?: string
  /** How long a disconnected session is kept for a resume, in ms. Default 120 000. */
  sessionTtl?: number
  /** Disconnected sessions kept at most; the oldest expire first. Default 10 000. */
  maxRetained?: number
  /** Default timeout of a call, each way, in ms. Default 30 000. */
  timeout?: number
  /** Calls in flight per session, each way; past it a call fails as overloaded. Default 64. */
  maxInFlight?: number
  /** Bytes of unacknowledged frames kept per session for a resend (the slow-consumer soft bound). Default 1 MiB. */
  maxOutboxBytes?: number
  /** Calls a page may make per second; past it a call fails as overloaded. Default 100. */
  maxCallsPerSecond?: number
  /** The initial `data` of a new session. Default `{}`. */
  data?: (request: FastifyRequest) => Data
  /**
   * Who the user is, from the request your auth hooks decorated: a session is
   * bound to it, and a resume by another principal starts a new session.
   * Default: `request.user.id` (or `request.user` when it is a string), else none.
   */
  principal?: (request: FastifyRequest) => string | undefined
  /** Runs once per page, when its session begins (it may call the browser). */
  onBoot?: (session: Session<Data>) => unknown
  /** Runs after a reconnect resumed the session. */
  onResume?: (session: Session<Data>) => unknown
  /** Runs when the session ends (closed page, TTL passed, app closed). */
  onExpire?: (session: Session<Data>) => unknown
  /**
   * Options of the socket's WebSocket resource: `origins` (the SSE transport's
   * requests too), `maxPayload` (the largest message, both transports),
   * `heartbeat`, the slow-consumer bounds.
   */
  websocket?: ResourceOptions
  /** Stream settings of the SSE transport's streams: `keepAlive`, `compression`, the slow-consumer bounds. */
  sse?: StreamSettings
  /** Route options of the socket's upgrade and of the SSE transport's requests: `onRequest` auth hooks answer 401/403 before them. */
  route?: Omit<RouteShorthandOptions, 'websocket'>
  /**
   * Sessions across nodes: the backplane the nodes share (a `RedisBackplane`,
   * the same object as the other plugins'). Session records live in its
   * store, `callAll()` reaches every node's sessions, a page resumes its
   * session on whichever node it reconnects to. See docs/rpc.md.
   */
  backplane?: Backplane
}

/** A function shape: the JSON Schemas of its argument list (a tuple) and of its result. */
export interface FunctionSchemas<Params extends TSchema, Result extends TSchema> {
  params: Params
  result: Result
}

type ParamsOf<Params extends TSchema> = Static<Params> extends unknown[] ? Static<Params> : never

/** The context a function gets after its arguments: `signal` aborts when the caller gives up. */
export interface CallContext {
  signal: AbortSignal
}

/** What `app.rpc` offers. */
export interface RpcApi<Data = Record<string, unknown>> {
  /**
   * Declares a function that runs in the browser, shipped in the generated
   * module (never eval); without `fn`, the page implements it
   * (`connect({ functions })`).
   * @example const add = app.rpc.browserFunction('add', { params: Type.Tuple([Type.Number(), Type.Number()]), result: Type.Number() }, (a, b) => a + b)
   */
  browserFunction: <Params extends TSchema, Result extends TSchema>(
    name: string,
    schemas: FunctionSchemas<Params, Result>,
    fn?: (...args: [...ParamsOf<Params>, CallContext]) => Static<Result> | Promise<Static<Result>>
  ) => BrowserFunction<ParamsOf<Params>, Static<Result>>
  /**
   * Declares a function the browser may call by name; its params are checked
   * with the route's validator, its errors reach the page as a code and a message.
   * @example app.rpc.serverFunction('greet', { params: Type.Tuple([Type.String()]), result: Type.String() }, async (session, name) => `hello ${name}`)
   */
  serverFunction: <Params extends TSchema, Result extends TSchema>(
    name: string,
    schemas: FunctionSchemas<Params, Result>,
    handler: (session: Session<Data>, ...args: [...ParamsOf<Params>, CallContext]) => Static<Result> | Promise<Static<Result>>
  ) => void
  /**
   * Calls `fn` in every session (or `options.sessions`): one entry per session, never a rejection as a whole.
   * @example for (const { session, status, value } of await app.rpc.callAll(add, [1, 2])) app.log.info({ session: session.id, status, value })
   */
  callAll: <Params extends unknown[], Result>(fn: BrowserFunction<Params, Result>, args: Params, options?: CallManyOptions<Session<Data>>) => Promise<Array<CallEntry<Session<Data> | RemoteSession, Result>>>
  /**
   * `callAll()` yielding each session's entry as it comes.
   * @example for await (const entry of app.rpc.callEach(add, [1, 2])) console.log(entry.status)
   */
  callEach: <Params extends unknown[], Result>(fn: BrowserFunction<Params, Result>, args: Params, options?: CallManyOptions<Session<Data>>) => AsyncGenerator<CallEntry<Session<Data> | RemoteSession, Result>>
  /**
   * The session with this id (connected or waiting for a resume); with a
   * `backplane`, an id this node does not hold gives a `RemoteSession` whose
   * calls go to the node that does.
   * @example await app.rpc.session(id)?.call(confirm, ['Delete?'])
   */
  session: (id: string) => Session<Data> | RemoteSession | undefined
  /**
   * The ids of the nodes that share the sessions (this one first); empty without a `backplane`.
   * @example app.log.info({ nodes: app.rpc.nodes() }, 'rpc cluster')
   */
  nodes: () => string[]
  /**
   * Every session of this node, connected or waiting for a resume.
   * @example for (const session of app.rpc.sessions()) console.log(session.id, session.connected)
   */
  sessions: () => IterableIterator<Session<Data>>
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Browser RPC: declare functions, call the browser (see `fastify-datastar/rpc`). */
    rpc: RpcApi<any>
  }
}

interface RpcSettings {
  prefix: string
  sessionTtl: number
  maxRetained: number
  timeout: number
  maxInFlight: number
  maxOutboxBytes: number
  maxCallsPerSecond: number
}

/** The defaults of the plugin's options. */
export const RPC_DEFAULTS: Readonly<RpcSettings> = Object.freeze({
  prefix: '/rpc',
  sessionTtl: 120_000,
  maxRetained: 10_000,
  timeout: 30_000,
  maxInFlight: 64,
  maxOutboxBytes: DEFAULT_MAX_BUFFERED_BYTES,
  maxCallsPerSecond: 100
})

// The browser runtime, served as it is: in the sources and in dist/ alike, beside this plugin's folder.
const RUNTIME_FILES = ['client.js', 'peer.js', 'protocol.js', 'sse-transport.js'] as const
const RUNTIME = new Map(RUNTIME_FILES.map((file) => [
  file,
  readFileSync(new URL(`../src/rpc/browser/${file}`, import.meta.url), 'utf8').replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n')
]))

const JAVASCRIPT = 'text/javascript; charset=utf-8'

const rpcPlugin: FastifyPluginAsync<RpcPluginOptions> = async (fastify, options) => {
  const settings = resolveOptions(options)
  // Before the WebSocket plugin's own preClose, which closes every socket with 1001 (a page's "going away").
  fastify.addHook('preClose', async () => { server.shutdown() })
  if (!fastify.hasDecorator('resource')) await fastify.register(websocket)
  const principal = options.principal ?? defaultPrincipal
  const sources = new Map<string, string>()
  const streams = new RpcStreams()
  let browserModule = renderBrowserModule(sources)
  // The socket's message bound, passed to the resource below and told to each page.
  const maxFrameBytes = options.websocket?.maxPayload ?? RESOURCE_DEFAULTS.maxPayload
  const cluster = sessionsAcrossNodes(options.backplane, fastify)
  const server = new RpcServer<Record<string, unknown>, FastifyRequest>({
    ...settings,
    cluster,
    postFrames: (post) => streams.post(post),
    maxFrameBytes,
    data: options.data ?? (() => ({})),
    onBoot: options.onBoot,
    onResume: options.onResume,
    onExpire: options.onExpire,
    onEnded: (session) => { streams.forget(session.id) },
    check: checkWith(),
    onError: (error, session) => {
      const log = session?.request.log ?? fastify.log
      log.error({ err: error, session: session?.id }, 'rpc error')
    },
    moduleHash: () => browserModule.hash
  })

  const declared = (kind: string, name: string, table: Record<string, unknown>): void => {
    if (table[name] !== undefined) throw new FST_ERR_RPC_DUPLICATE_FUNCTION(kind, name)
  }

  fastify.decorate('rpc', {
    browserFunction (name: string, schemas: FunctionSchemas<TSchema, TSchema>, fn?: (...args: any[]) => unknown) {
      declared('browser', name, server.browserFunctions)
      // Checked and copied now: a function that closes over server state fails at startup, naming the variable.
      if (fn !== undefined) {
        sources.set(name, browserFunctionSource(name, fn))
        browserModule = renderBrowserModule(sources)
      }
      const declaration: BrowserFunction = { name, params: schemas.params, result: schemas.result }
      server.browserFunctions[name] = declaration
      return declaration as BrowserFunction<any, any>
    },
    serverFunction (name: string, schemas: FunctionSchemas<TSchema, TSchema>, handler: (session: Session, ...args: any[]) => unknown) {
      declared('server', name, server.serverFunctions)
      server.serverFunctions[name] = { name, params: schemas.params, result: schemas.result, handler: (session, args, context) => handler(session, ...args, context) }
    },
    callAll: (fn, args, callOptions) => server.callAll(fn, args, callOptions),
    callEach: (fn, args, callOptions) => server.callEach(fn, args, callOptions),
    session: (id) => server.session(id),
    nodes: () => cluster?.node.nodes ?? [],
    sessions: () => server.sessions.values()
  } satisfies RpcApi<Record<string, unknown>>)

  // The app is ready once this node has joined the others (a claim asks them; an early one would miss them).
  if (cluster !== undefined) fastify.addHook('onReady', async () => { await cluster.node.ready() })
  fastify.addHook('onClose', async () => {
    await server.close()
    if (cluster !== undefined) {
      await cluster.node.close()
      await closeBackplaneOnce(cluster.node.backplane)
    }
  })

  const prefix = settings.prefix
  // The entry the page imports: the runtime, bound to this server's socket and browser-function module.
  fastify.get(`${prefix}/client.js`, async (_request, reply) => {
    reply.type(JAVASCRIPT).header('cache-control', 'no-cache')
    return entryModule(browserModule.hash)
  })
  fastify.get(`${prefix}/runtime/:file`, async (request, reply) => {
    const source = RUNTIME.get((request.params as { file: string }).file as typeof RUNTIME_FILES[number])
    if (source === undefined) return await reply.callNotFound()
    reply.type(JAVASCRIPT).header('cache-control', 'no-cache')
    return source
  })
  // Content-addressed: a new set of browser functions is a new URL, so this one never changes.
  fastify.get(`${prefix}/functions.:hash.js`, async (request, reply) => {
    if ((request.params as { hash: string }).hash !== browserModule.hash) return await reply.callNotFound()
    reply.type(JAVASCRIPT).header('cache-control', 'public, max-age=31536000, immutable')
    return browserModule.source
  })

  const sockets = new WeakMap<object, RpcSocket>()
  fastify.resource<Record<string, unknown>>(`${prefix}/socket`, {
    ...options.websocket,
    maxPayload: maxFrameBytes,
    route: options.route,
    resolve: () => 'rpc',
    connected: (client) => {
      sockets.set(client, server.connect({
        send: (text) => { client.send(text) },
        close: (code, reason) => { client.close(code, reason) }
      }, client.request, principal(client.request)))
    },
    message: (client, text) => { sockets.get(client)?.receive(text) },
    binary: (client) => { client.close(1003, 'RPC frames are text') },
    disconnected: (client, code) => { sockets.get(client)?.closed(code) }
  })

  await fastify.register(sseTransport, { paths: prefix, server, streams, principal, maxFrameBytes, options })
}

interface SseTransportOptions {
  // Not `prefix`: Fastify would put it before the routes' own.
  paths: string
  server: RpcServer<Record<string, unknown>, FastifyRequest>
  streams: RpcStreams
  principal: (request: FastifyRequest) => string | undefined
  maxFrameBytes: number
  options: RpcPluginOptions
}

/**
 * The transport without WebSocket: `POST <prefix>/stream` (the hello in, the
 * event stream out) and `POST <prefix>/frames`. In a context of its own: its
 * bodies are JSON kept as text (the frames' own parser reads them), at most
 * `maxFrameBytes`, and only JSON (a cross-site form cannot send it).
 */
async function sseTransport (fastify: FastifyInstance, { paths: prefix, server, streams, principal, maxFrameBytes, options }: SseTransportOptions): Promise<void> {
  // The project's own reply.sse() (keep-alive, compression, slow clients): the app's, else one of this context's own,
  // so that an umbrella plugin registered after this one can still register its own.
  if (!fastify.hasReplyDecorator('sse')) await fastify.register(sse)
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: maxFrameBytes }, (_request, body, done) => { done(null, body) })
  const origins = resolveResourceOptions(options.websocket).origins
  const route = options.route ?? {}
  const routeOptions = {
    ...route,
    config: { ...route.config, sse: options.sse },
    // The socket's Origin check, for POSTs: before the user's auth hooks, as before an upgrade.
    onRequest: [async (request: FastifyRequest) => {
      if (!fromAllowedOrigin(request.headers, `${request.protocol}://${request.host}`, origins)) throw new FST_ERR_RPC_ORIGIN_FORBIDDEN(request.headers.origin ?? request.headers['sec-fetch-site'])
    }, ...hookList(route.onRequest)]
  }
  fastify.post(`${prefix}/stream`, routeOptions, async (request: FastifyRequest, reply: FastifyReply) => {
    const who = principal(request)
    const opened = await streams.open(typeof request.body === 'string' ? request.body : '', who, (connection) => server.connect(connection, request, who))
    if ('refused' in opened) throw new FST_ERR_RPC_INVALID_REQUEST(opened.refused)
    opened.connection.attach(reply.sse())
  })
  fastify.post(`${prefix}/frames`, routeOptions, async (request: FastifyRequest, reply: FastifyReply) => {
    const closeHeader = headerOf(request, SSE_HEADERS.close)
    const close = closeHeader === undefined ? undefined : Number(closeHeader)
    if (close !== undefined && !(Number.isSafeInteger(close) && close >= 1000 && close <= 4999)) throw new FST_ERR_RPC_INVALID_REQUEST(`${SSE_HEADERS.close} must be a close code, got ${closeHeader}`)
    const post = {
      session: headerOf(request, SSE_HEADERS.session),
      key: headerOf(request, SSE_HEADERS.key),
      principal: principal(request),
      body: typeof request.body === 'string' ? request.body : undefined,
      close
    }
    let outcome = streams.post(post)
    // Across nodes: the stream may be on another node (no sticky sessions): that node applies it.
    if (outcome === 'unknown') outcome = await server.forwardFrames(post)
    if (outcome === 'unknown') throw new FST_ERR_RPC_UNKNOWN_CONNECTION()
    if (outcome === 'refused') throw new FST_ERR_RPC_INVALID_REQUEST('a frame was refused; the connection is closed')
    return await reply.code(204).send()
  })
}

function headerOf (request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  return typeof value === 'string' ? value : undefined
}

function hookList<T> (hooks: T | readonly T[] | undefined): T[] {
  if (hooks === undefined) return []
  return Array.isArray(hooks) ? [...hooks] : [hooks as T]
}

function entryModule (hash: string): string {
  return `// Generated by fastify-datastar: the RPC client of this server.
import { connect as connectTo } from './runtime/client.js'
import { functions } from './functions.${hash}.js'
export { RpcClient } from './runtime/client.js'
export { RpcError } from './runtime/peer.js'
export { RpcErrorCode } from './runtime/protocol.js'
const socketUrl = new URL('./socket', import.meta.url)
socketUrl.protocol = socketUrl.protocol === 'https:' ? 'wss:' : 'ws:'
const streamUrl = new URL('./stream', import.meta.url)
/**
 * Opens this page's session: \`functions\` are the page's own, for the browser functions declared without a body;
 * \`transports\` the order to try (default WebSocket, then the SSE stream when the WebSocket fails before its welcome).
 */
export function connect (options = {}) {
  return connectTo({ url: socketUrl.href, sseUrl: streamUrl.href, ...options, module: { hash: ${JSON.stringify(hash)}, functions } })
}
`
}

// Each session's checks use the validator compiler of its upgrade's route (Ajv by default), cached per schema.
function checkWith () {
  const compiled = new WeakMap<object, (value: unknown) => ReturnType<ReturnType<typeof compileValidator>>>()
  return (schema: unknown, value: unknown, context: string, request: FastifyRequest) => {
    let check = compiled.get(schema as object)
    if (check === undefined) compiled.set(schema as object, check = compileValidator(request, schema, context))
    const result = check(value)
    return result.valid ? { valid: true as const, value: result.value } : { valid: false as const, message: result.message }
  }
}

// With a backplane: this app's node of the RPC cluster (its own channel) and the backplane's shared store.
function sessionsAcrossNodes (backplane: Backplane | undefined, fastify: FastifyInstance): { node: ClusterNode, store: SharedStore } | undefined {
  if (backplane === undefined) return undefined
  if (typeof backplane !== 'object' || backplane === null || !hasEphemeral(backplane) || backplane.store === undefined) {
    throw new FST_ERR_RPC_INVALID_OPTION('backplane', 'expected a backplane with ephemeral messages and a shared store, such as RedisBackplane')
  }
  const node = new ClusterNode({ backplane, channel: 'rpc', onError: (err) => { fastify.log.warn({ err }, 'rpc across nodes') } })
  return { node, store: backplane.store }
}

function defaultPrincipal (request: FastifyRequest): string | undefined {
  const user = (request as { user?: unknown }).user
  if (typeof user === 'string') return user
  const id = (user as { id?: unknown } | undefined)?.id
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined
}

function resolveOptions (options: RpcPluginOptions): RpcSettings {
  const resolved: RpcSettings = { ...RPC_DEFAULTS }
  for (const key of ['sessionTtl', 'maxRetained', 'timeout', 'maxInFlight', 'maxOutboxBytes', 'maxCallsPerSecond'] as const) {
    const value = options[key]
    if (value === undefined) continue
    if (!Number.isSafeInteger(value) || value <= 0) throw new FST_ERR_RPC_INVALID_OPTION(key, `expected a positive integer, got ${String(value)}`)
    resolved[key] = value
  }
  if (options.prefix !== undefined) {
    if (typeof options.prefix !== 'string' || !/^\/[\w\-/]*[\w-]$/.test(options.prefix)) throw new FST_ERR_RPC_INVALID_OPTION('prefix', `expected a path like "/rpc", got ${String(options.prefix)}`)
    resolved.prefix = options.prefix
  }
  for (const key of ['data', 'principal', 'onBoot', 'onResume', 'onExpire'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') throw new FST_ERR_RPC_INVALID_OPTION(key, 'expected a function')
  }
  return resolved
}

/** The RPC plugin: browser functions, server functions and page sessions over a WebSocket. */
export const rpc = fp(rpcPlugin, {
  fastify: '5.x',
  name: 'fastify-datastar-rpc'
})

export default rpc
export { RpcError } from '../src/rpc/browser/peer.js'
export { RpcErrorCode } from '../src/rpc/browser/protocol.js'
export { RpcClient, connect } from '../src/rpc/browser/client.js'
export type { BrowserFunction } from '../src/rpc/functions.js'
export type { CallEntry, CallManyOptions } from '../src/rpc/server.js'
export type { CallOptions } from '../src/rpc/browser/peer.js'
export type { RpcSession, RpcTransport } from '../src/rpc/session.js'
export type { RemoteSession } from '../src/rpc/remote-session.js'
export type { ConnectOptions } from '../src/rpc/browser/client.js'
export { connectTestPage, type Faults, type TestPage, type TestPageOptions } from '../src/rpc/testing.js'
