/**
 * fastify-datastar: the umbrella plugin. Registers Server-Sent Events
 * (`reply.sse()`), the Datastar SDK (`reply.datastar()`, `request.readSignals()`,
 * typed `schema.signals`, one-shot replies, `fastify.datastarUrl()`) and the
 * TCP_NODELAY hook. Each is also importable alone from its subpath.
 *
 * @example
 * import Fastify from 'fastify'
 * import datastar from 'fastify-datastar'
 * const app = Fastify()
 * await app.register(datastar)
 * app.get('/feed', async (request, reply) => {
 *   reply.datastar().patchElements('<div id="feed">…</div>')
 * })
 */
import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { datastar as datastarPlugin, type DatastarPluginOptions } from './datastar.js'
import { nodelay } from './nodelay.js'
import { registry, type RegistryPluginOptions } from './registry.js'
import { sse } from './sse.js'

/** Options of the umbrella plugin. */
export interface FastifyDatastarOptions extends DatastarPluginOptions {
  /** Set TCP_NODELAY on every connection. Default true. */
  noDelay?: boolean
  /** Defaults of every registry: backplane, replay, coalesce. */
  registry?: RegistryPluginOptions
}

const umbrella: FastifyPluginAsync<FastifyDatastarOptions> = async (fastify, options) => {
  const { noDelay = true, client, maxSignalsDepth, registry: registryOptions, ...streamDefaults } = options
  await fastify.register(sse, streamDefaults)
  await fastify.register(datastarPlugin, { ...streamDefaults, client, maxSignalsDepth })
  await fastify.register(registry, registryOptions ?? {})
  if (noDelay) await fastify.register(nodelay)
}

/** The umbrella plugin: SSE, Datastar, registries and TCP_NODELAY. */
export const fastifyDatastar = fp(umbrella, {
  fastify: '5.x',
  name: 'fastify-datastar'
})

export default fastifyDatastar
export { datastarPlugin as datastar, sse, nodelay, registry }
export { errorCodes } from '../src/errors.js'

// What the plugins hand out, and the types an application writes (each also on its own subpath).
export { SSEStream, type CompressionOptions, type CompressionTuning, type Encoding, type OverflowPolicy, type SSECloseReason, type SSEMessage, type SSEPluginOptions, type SSEReplyOptions, type StreamCallback, type StreamReplyOptions, type StreamSettings } from './sse.js'
// The options of each Datastar event are on fastify-datastar/datastar (and core).
export { DatastarStream, type DatastarClientOptions, type DatastarMethods, type DatastarPluginOptions, type DatastarReplyOptions, type RouteSignals, type Signals, type SignalsPatch } from './datastar.js'
export {
  MemoryBackplane,
  Registry,
  type AddOptions,
  type Backplane,
  type BackplaneEvent,
  type BackplaneListener,
  type BackplaneMessage,
  type BroadcastOptions,
  type EphemeralListener,
  type SharedStore,
  type Broadcaster,
  type LongPollOptions,
  type PollOptions,
  type PollResult,
  type RegistryOptions,
  type RegistryPluginOptions,
  type Subscriber
} from './registry.js'
// Types only: the WebSocket plugin is not part of the umbrella, and loads only when imported.
export type { Resource, ResourceClient, ResourceRoute } from './websocket-types.js'
