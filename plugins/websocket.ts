/**
 * `fastify-datastar/websocket`: WebSocket resources in the manner of
 * Hunchensocket, on @fastify/websocket and ws. `app.resource(path, handlers)`
 * declares a route whose connections join named instances (rooms); the checks
 * a browser upgrade needs (Origin, subprotocol, the resolve step, your auth
 * hooks) answer as real HTTP before the 101.
 *
 * @example
 * await app.register(websocket)
 * app.resource('/chat/:room', {
 *   resolve: (request) => (request.params as { room: string }).room,
 *   message: (client, text) => { client.resource.broadcast(text, { except: client }) }
 * })
 */
import fp from 'fastify-plugin'
import fastifyWebsocket, { type WebsocketPluginOptions } from '@fastify/websocket'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify'
import type { TSchema } from '@sinclair/typebox'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { WebSocket } from 'ws'
import {
  FST_ERR_WS_INVALID_OPTION,
  FST_ERR_WS_ORIGIN_FORBIDDEN,
  FST_ERR_WS_RESOURCE_NOT_FOUND,
  FST_ERR_WS_UNSUPPORTED_PROTOCOL,
  FST_ERR_WS_UPGRADE_REQUIRED
} from '../src/errors.js'
import { CloseCode } from '../src/websocket/close-codes.js'
import { shareRequestStrings } from '../src/websocket/request-strings.js'
import type { MessageValidator } from '../src/websocket/resource-client.js'
import { ResourceRoute as CoreResourceRoute } from '../src/websocket/resource-route.js'
import type { ResourceClient, ResourceHandlers, ResourceMessage, ResourceRoute } from './websocket-types.js'
import { resolveResourceOptions, type ResolvedResourceOptions, type ResourceOptions } from '../src/websocket/options.js'
import { isOriginAllowed } from '../src/websocket/origin.js'
import { offeredProtocols, selectProtocol } from '../src/websocket/protocol.js'
import { compileValidator, type Validation } from './validation.js'
import { closeBackplaneOnce, hasEphemeral, type Backplane } from '../src/registry/backplane.js'
import { ClusterNode } from '../src/cluster/node.js'
import { answerProtocolsWith, releaseUpgrade } from './websocket-upgrade.js'

/** Options of the plugin: defaults of every resource, and how to run @fastify/websocket. */
export interface WebSocketPluginOptions extends ResourceOptions {
  /** On `app.close()`, how long clients get to answer the 1001 close before they are terminated, in ms. Default 2 000. */
  closeTimeout?: number
  /**
   * Rooms across nodes: the backplane the nodes share (a `RedisBackplane`;
   * the same object as the registry plugin's, if it has one). Broadcasts then
   * reach a room's clients on every node, and `route.presence()` asks every
   * node. Closed on `app.close()` (once, however many plugins were given it).
   * Default: none, rooms are this node's only.
   */
  backplane?: Backplane
  /**
   * Options for @fastify/websocket when this plugin registers it (it does unless
   * it is registered already). `options.maxPayload` defaults to `maxPayload`.
   */
  websocket?: Omit<WebsocketPluginOptions, 'preClose'>
}

/** What `app.resource()` takes: handlers, the resolve step, a message schema, options, route options. */
export interface ResourceDefinition<Data, Schema> extends ResourceOptions, ResourceHandlers<Data, ResourceMessage<Schema>> {
  /**
   * Maps the upgrade request to the name of the instance (room) the client
   * joins, or undefined to refuse with 404 before the upgrade. May be async.
   * Default: the request path.
   */
  resolve?: (request: FastifyRequest) => string | undefined | Promise<string | undefined>
  /** JSON Schema (e.g. TypeBox) of text messages: they are parsed as JSON, validated, and typed. */
  schema?: Schema
  /** The initial per-client `data`. Default `{}`. */
  data?: (request: FastifyRequest) => Data
  /**
   * Route options: hooks (`onRequest` for auth answers 401/403 before the
   * upgrade), `schema` for the upgrade's `querystring`, `params` and `headers`
   * (400 before the upgrade), `config`, `constraints`...
   */
  route?: Omit<RouteShorthandOptions, 'websocket'>
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Declares a WebSocket resource at `path` (Hunchensocket's
     * `websocket-resource`) and returns it: its instances (rooms) by name, each
     * with its clients and `broadcast()`.
     * @example
     * const chat = app.resource('/chat/:room', {
     *   resolve: (request) => (request.params as { room: string }).room,
     *   message: (client, text) => { client.resource.broadcast(text) }
     * })
     */
    resource<Data = Record<string, unknown>, Schema extends TSchema | undefined = undefined>(
      path: string,
      definition: ResourceDefinition<Data, Schema>
    ): ResourceRoute<Data, ResourceMessage<Schema>>
  }
}

/** What an upgrade's hooks decided, kept until its handler runs. */
interface Upgrade {
  /** The resource instance it joins. */
  instance?: string
  /** The subprotocol chosen before the 101. */
  protocol?: string
  /** The upgrade's ServerResponse, detached from the socket once upgraded. */
  response?: ServerResponse
}

// Keyed by the raw request, not stored on it: a property added to every
// IncomingMessage outlives the upgrade (the request stays as `client.request`).
const upgrades = new WeakMap<IncomingMessage, Upgrade>()

function upgradeOf (request: IncomingMessage): Upgrade {
  let upgrade = upgrades.get(request)
  if (upgrade === undefined) upgrades.set(request, upgrade = {})
  return upgrade
}

const DEFAULT_CLOSE_TIMEOUT = 2000

const websocketPlugin: FastifyPluginAsync<WebSocketPluginOptions> = async (fastify, options) => {
  const { closeTimeout = DEFAULT_CLOSE_TIMEOUT, websocket: websocketOptions, backplane, ...resourceOptions } = options
  const defaults = resolveResourceOptions(resourceOptions)
  if (!Number.isSafeInteger(closeTimeout) || closeTimeout < 0) {
    throw new FST_ERR_WS_INVALID_OPTION('closeTimeout', `expected a number of milliseconds >= 0, got ${String(closeTimeout)}`)
  }
  if (backplane !== undefined && (typeof backplane !== 'object' || backplane === null || !hasEphemeral(backplane))) {
    throw new FST_ERR_WS_INVALID_OPTION('backplane', 'expected a backplane with publishEphemeral() and subscribeEphemeral(), such as RedisBackplane')
  }
  const routes: Array<ResourceRoute<any, any>> = []
  // One node of the cluster per app, shared by its routes.
  const cluster = backplane === undefined
    ? undefined
    : new ClusterNode({ backplane, onError: (err) => { fastify.log.warn({ err }, 'websocket rooms across nodes') } })

  // Added before @fastify/websocket's own preClose, which closes sockets without a code.
  fastify.addHook('preClose', async () => {
    // Clients first: their `disconnected` handlers may still broadcast to the other nodes.
    await Promise.all(routes.map((route) => route.closeAll(closeTimeout)))
    await Promise.all(routes.map((route) => route.close()))
    await cluster?.close()
  })
  if (backplane !== undefined) fastify.addHook('onClose', () => closeBackplaneOnce(backplane))

  if (!fastify.hasDecorator('websocketServer')) {
    await fastify.register(fastifyWebsocket, {
      ...websocketOptions,
      options: { maxPayload: defaults.maxPayload, ...websocketOptions?.options }
    })
  } else if (((fastify.websocketServer.options as { maxPayload?: number }).maxPayload ?? 0) > defaults.maxPayload) {
    // ws reads a whole message before a resource can refuse it for its size.
    fastify.log.warn({ maxPayload: fastify.websocketServer.options.maxPayload }, 'the @fastify/websocket registered beforehand accepts messages larger than fastify-datastar\'s maxPayload: ws buffers them whole before they are refused; pass options.maxPayload to it')
  }
  // ws asks which subprotocol to answer with; for our routes it is the one chosen before the upgrade.
  answerProtocolsWith(fastify.websocketServer, (request) => upgrades.get(request)?.protocol)

  fastify.decorate('resource', function resource (this: FastifyInstance, path: string, definition: ResourceDefinition<any, any>) {
    const settings = resolveResourceOptions(definition, defaults)
    const wsLimit = (this.websocketServer.options as { maxPayload?: number }).maxPayload ?? Infinity
    if (settings.maxPayload > wsLimit) {
      throw new FST_ERR_WS_INVALID_OPTION('maxPayload', `${settings.maxPayload} is above the WebSocket server's own limit of ${wsLimit} bytes`)
    }
    if ((definition.schema as { $async?: unknown } | undefined)?.$async === true) {
      throw new FST_ERR_WS_INVALID_OPTION('schema', 'asynchronous schemas are not supported for messages')
    }
    let check: ((data: unknown) => Validation) | undefined
    const validate: MessageValidator | undefined = definition.schema === undefined
      ? undefined
      : (value) => check!(value) as ReturnType<MessageValidator>
    const route: ResourceRoute<any, any> = new CoreResourceRoute(path, {
      ...handlersOf(definition),
      options: settings,
      validate,
      onError: logClientError
    }, { cluster, onError: (err) => { this.log.warn({ err, resource: path }, 'websocket rooms across nodes') } })
    routes.push(route)
    const resolve = definition.resolve ?? pathOf
    const initialData = definition.data
    const routeOptions = definition.route ?? {}

    this.route({
      ...routeOptions,
      method: 'GET',
      url: path,
      onRequest: [checkUpgrade(settings), ...hookList(routeOptions.onRequest)],
      preHandler: [...hookList(routeOptions.preHandler), async (request: FastifyRequest, reply: FastifyReply) => {
        // A plain GET is resolved too: an unknown room is a 404 whatever the request.
        const name = await resolve(request)
        if (typeof name !== 'string') throw new FST_ERR_WS_RESOURCE_NOT_FOUND(request.url)
        if (!request.ws) return
        if (definition.schema !== undefined) check ??= compileValidator(request, definition.schema, 'message')
        const upgrade = upgradeOf(request.raw)
        upgrade.instance = name
        upgrade.response = reply.raw
      }],
      // RFC 9110: a 426 names the protocol to upgrade to.
      handler: async (_request: FastifyRequest, reply: FastifyReply) => {
        reply.header('upgrade', 'websocket')
        throw new FST_ERR_WS_UPGRADE_REQUIRED(path)
      },
      wsHandler: (socket: WebSocket, request: FastifyRequest) => {
        const upgrade = upgradeOf(request.raw)
        upgrades.delete(request.raw)
        let data: unknown
        try {
          data = initialData?.(request)
        } catch (error) {
          request.log.error({ err: error }, 'websocket resource data() failed')
          socket.close(CloseCode.INTERNAL_ERROR, 'Internal error')
          return
        }
        releaseUpgrade(socket, request.raw, upgrade.response)
        // The client keeps its request for its whole life: its header strings, shared once data() has run.
        shareRequestStrings(request.raw)
        route.accept({ socket, request, name: upgrade.instance!, data, lastEventId: lastEventIdOf(request) })
      }
    } as unknown as Parameters<FastifyInstance['route']>[0])
    return route
  })
}

/** Origin and subprotocol checks of an upgrade, as HTTP answers (403, 400) before the 101. */
function checkUpgrade (settings: ResolvedResourceOptions) {
  return async function checkWebSocketUpgrade (request: FastifyRequest): Promise<void> {
    if (!request.ws) return
    const origin = request.headers.origin
    // request.protocol and request.host honour trustProxy (X-Forwarded-Proto, X-Forwarded-Host) behind a proxy.
    if (!isOriginAllowed(origin, `${request.protocol}://${request.host}`, settings.origins)) throw new FST_ERR_WS_ORIGIN_FORBIDDEN(origin)
    const offered = offeredProtocols(request.headers['sec-websocket-protocol'])
    if (offered.length === 0) return
    const protocol = selectProtocol(offered, settings.protocols)
    if (protocol === undefined) throw new FST_ERR_WS_UNSUPPORTED_PROTOCOL(offered.join(', '))
    upgradeOf(request.raw).protocol = protocol
  }
}

function handlersOf (definition: ResourceHandlers<any, any>): ResourceHandlers<any, any> {
  const { connected, message, binary, disconnected } = definition
  return { connected, message, binary, disconnected }
}

function hookList<T> (hooks: T | readonly T[] | undefined): T[] {
  if (hooks === undefined) return []
  return Array.isArray(hooks) ? [...hooks] : [hooks as T]
}

function pathOf (request: FastifyRequest): string {
  const query = request.url.indexOf('?')
  return query === -1 ? request.url : request.url.slice(0, query)
}

// Browsers cannot set headers on a WebSocket: a resuming page passes its last id in the query.
function lastEventIdOf (request: FastifyRequest): string | undefined {
  const query = request.query as Record<string, unknown> | undefined
  if (typeof query?.lastEventId === 'string') return query.lastEventId
  const header = request.headers['last-event-id']
  return typeof header === 'string' ? header : undefined
}

// A client's mistake is logged like a 4xx (info); a dropped slow or silent peer is a warning; handler errors are errors.
function logClientError (error: Error & { statusCode?: number, code?: string }, client: ResourceClient<unknown, unknown>): void {
  const log = client.request.log
  const context = { err: error, resource: client.resource.name }
  if (error.statusCode !== undefined && error.statusCode < 500) log.info(context, 'websocket client error')
  else if (error.code === 'FST_ERR_WS_OVERFLOW' || error.code === 'FST_ERR_WS_STALLED' || error.code === 'FST_ERR_WS_HEARTBEAT_TIMEOUT') log.warn(context, 'websocket client dropped')
  else log.error(context, 'websocket handler error')
}

/** The WebSocket plugin: resources on @fastify/websocket (registered here unless it already is). */
export const websocket = fp(websocketPlugin, {
  fastify: '5.x',
  name: 'fastify-datastar-websocket'
})

export default websocket
export type { BroadcastOptions } from '../src/broadcast.js'
export type { Resource, ResourceClient, ResourceHandlers, ResourceMessage, ResourceRoute } from './websocket-types.js'
export type { Presence, PresenceOptions } from '../src/websocket/resource-route.js'
export type { OutgoingMessage } from '../src/websocket/message.js'
export { CloseCode } from '../src/websocket/close-codes.js'
export type { ResourceOptions, InvalidMessagePolicy } from '../src/websocket/options.js'
export type { OverflowPolicy } from '../src/slow-consumer.js'
export type { OriginPolicy } from '../src/websocket/origin.js'
export type { Envelope } from '../src/websocket/envelope.js'
