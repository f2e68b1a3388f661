/**
 * `fastify-datastar/sse`: Server-Sent Events for Fastify without Datastar (what
 * lc-sse is to datastar-cl). Decorates `reply.sse()`.
 *
 * @example
 * await app.register(sse, { keepAlive: 15_000 })
 * app.get('/events', async (request, reply) => {
 *   const stream = reply.sse()
 *   stream.send({ event: 'hello', data: 'world' })
 * })
 */
import fp from 'fastify-plugin'
import diagnostics from 'node:diagnostics_channel'
import type { FastifyPluginCallback, FastifyReply } from 'fastify'
import { validateStreamSettings, type StreamSettings } from '../src/sse/options.js'
import { SSEStream } from '../src/sse/stream.js'
import { kStreamTracker } from '../src/symbols.js'
import { StreamTracker, type StreamCallback, type StreamReplyOptions } from './reply-stream.js'

/** Options of the SSE plugin: defaults of every stream (a route's `config.sse` and a stream's options refine them). */
export type SSEPluginOptions = StreamSettings

/** Options of `reply.sse()`. */
export type SSEReplyOptions = StreamReplyOptions<SSEStream>

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Stream settings for this route: keep-alive and compression. */
    sse?: StreamSettings
  }

  interface FastifyReply {
    /**
     * Starts an event stream on this reply and writes its head at once.
     * @example const stream = reply.sse(); stream.send({ data: 'hi' })
     */
    sse(options?: SSEReplyOptions): SSEStream
    /**
     * Runs `callback` on an event stream that closes when the callback settles.
     * @example return reply.sse(async (stream) => { await stream.send({ data: 'once' }) })
     */
    sse(callback: StreamCallback<SSEStream>, options?: SSEReplyOptions): Promise<void>
  }
}

// Fastify publishes handler errors here (its request-handler tracing channel).
const handlerErrors = diagnostics.channel('tracing:fastify.request.handler:error')

const ssePlugin: FastifyPluginCallback<SSEPluginOptions> = (fastify, options, done) => {
  let defaults: StreamSettings
  try {
    defaults = validateStreamSettings(options)
  } catch (error) {
    done(error as Error)
    return
  }
  const tracker = new StreamTracker(defaults)
  fastify.decorate(kStreamTracker, tracker)
  fastify.decorateReply('sse', function (this: FastifyReply, callbackOrOptions?: StreamCallback<SSEStream> | SSEReplyOptions, options?: SSEReplyOptions) {
    if (typeof callbackOrOptions === 'function') return tracker.run(this, SSEStream, callbackOrOptions, options)
    return tracker.start(this, SSEStream, callbackOrOptions)
  } as FastifyReply['sse'])
  fastify.addHook('onRoute', (routeOptions) => {
    const config = routeOptions.config as { sse?: StreamSettings } | undefined
    if (config?.sse !== undefined) validateStreamSettings(config.sse, `config.sse of ${String(routeOptions.method)} ${routeOptions.url}`)
  })
  // A handler that throws after `reply.sse()` wrote the head: Fastify can only
  // log it (the reply is sent), so the stream is closed for the client to retry.
  const onHandlerError = (message: unknown): void => {
    const reply = (message as { reply?: FastifyReply }).reply
    if (reply !== undefined) tracker.streamOf(reply)?.close()
  }
  handlerErrors.subscribe(onHandlerError)
  fastify.addHook('onClose', (_instance, hookDone) => {
    handlerErrors.unsubscribe(onHandlerError)
    hookDone()
  })
  // Open streams would keep server.close() waiting forever: end them first.
  fastify.addHook('preClose', (hookDone) => {
    tracker.closeAll()
    hookDone()
  })
  done()
}

/** The SSE plugin (registered by the umbrella plugin too). */
export const sse = fp(ssePlugin, {
  fastify: '5.x',
  name: 'fastify-datastar-sse'
})

export default sse
export { SSEStream }
export type { StreamCallback, StreamSettings, StreamReplyOptions }
export type { SSECloseReason } from '../src/sse/stream.js'
export type { SSEMessage } from '../src/sse/format.js'
export type { CompressionOptions, CompressionTuning, Encoding } from '../src/sse/compression.js'
export type { OverflowPolicy } from '../src/slow-consumer.js'
