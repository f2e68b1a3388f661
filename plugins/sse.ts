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
import type { FastifyPluginCallback, FastifyReply } from 'fastify'
import { FST_ERR_DATASTAR_INVALID_PLUGIN_OPTION } from '../src/errors.js'
import { SSEStream, validateKeepAlive } from '../src/sse/stream.js'
import { kStreamTracker, StreamTracker, type StreamCallback, type StreamReplyOptions } from './reply-stream.js'

/** Options of the SSE plugin. */
export interface SSEPluginOptions {
  /** Default keep-alive interval of every stream in ms, or false. Default 30 000. */
  keepAlive?: number | false
}

/** Options of `reply.sse()`. */
export type SSEReplyOptions = StreamReplyOptions<SSEStream>

declare module 'fastify' {
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

const ssePlugin: FastifyPluginCallback<SSEPluginOptions> = (fastify, options, done) => {
  let keepAlive: number | false | undefined
  try {
    if (options.keepAlive !== undefined) keepAlive = validateKeepAlive(options.keepAlive)
  } catch (error) {
    done(new FST_ERR_DATASTAR_INVALID_PLUGIN_OPTION('keepAlive', (error as Error).message))
    return
  }
  const tracker = new StreamTracker(keepAlive)
  fastify.decorate(kStreamTracker, tracker)
  fastify.decorateReply('sse', function (this: FastifyReply, callbackOrOptions?: StreamCallback<SSEStream> | SSEReplyOptions, options?: SSEReplyOptions) {
    if (typeof callbackOrOptions === 'function') return tracker.run(this, SSEStream, callbackOrOptions, options)
    return tracker.start(this, SSEStream, callbackOrOptions)
  } as FastifyReply['sse'])
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
export type { StreamCallback, StreamReplyOptions }
export { encodeEvent, encodeComment } from '../src/sse/format.js'
export type { SSEMessage } from '../src/sse/format.js'
export { SSEParser, type ParsedEvent } from '../src/sse/parser.js'
