/**
 * How a reply becomes an event stream: shared by `reply.sse()` and
 * `reply.datastar()`. The head is written through the reply's own status and
 * headers (so hooks and plugins such as @fastify/cors still apply), the reply is
 * hijacked only once the head goes out, and the callback form leaves an error
 * thrown before the first event to Fastify's error handler.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { OutgoingHttpHeaders } from 'node:http'
import { FST_ERR_SSE_ALREADY_STARTED } from '../src/errors.js'
import { sseHeaders, type SSEStream, type SSEStreamOptions } from '../src/sse/stream.js'

/** Options of `reply.sse()` and `reply.datastar()`. */
export interface StreamReplyOptions<S extends SSEStream = SSEStream> {
  /** Keep-alive interval in ms, or false; defaults to the plugin's (30 000). */
  keepAlive?: number | false
  /** Extra response headers. */
  headers?: OutgoingHttpHeaders
  /** Runs once when the head has been written (datastar-cl's `:on-connect`). */
  onConnect?: (stream: S) => void
  /** Runs once when the stream ends, whoever ends it (datastar-cl's `:on-disconnect`). */
  onDisconnect?: (stream: S) => void
}

/** A callback that writes to a stream which closes when it settles. */
export type StreamCallback<S extends SSEStream> = (stream: S) => unknown

type StreamClass<S extends SSEStream> = new (
  res: FastifyReply['raw'],
  head: () => { statusCode: number, headers: OutgoingHttpHeaders },
  options: SSEStreamOptions
) => S

/** Where the SSE plugin keeps an instance's tracker (shared with the Datastar plugin). */
export const kStreamTracker = Symbol('fastify-datastar.streamTracker')

/** The stream tracker of an instance on which the SSE plugin is registered. */
export function streamTracker (fastify: FastifyInstance): StreamTracker {
  return (fastify as unknown as Record<symbol, StreamTracker>)[kStreamTracker] as StreamTracker
}

/** The streams of one Fastify instance, so `app.close()` can end them. */
export class StreamTracker {
  readonly open = new Set<SSEStream>()
  #closing = false
  readonly #keepAlive: number | false | undefined

  constructor (keepAlive: number | false | undefined) {
    this.#keepAlive = keepAlive
  }

  /**
   * Turns `reply` into a stream of class `Stream`. With `deferHead`, nothing is
   * written until the first event (or `close()`).
   */
  start<S extends SSEStream>(reply: FastifyReply, Stream: StreamClass<S>, options: StreamReplyOptions<S> = {}, deferHead = false): S {
    if (reply.sent || reply.raw.headersSent) throw new FST_ERR_SSE_ALREADY_STARTED()
    const request = reply.request
    const lastEventId = request.headers['last-event-id']
    const stream = new Stream(reply.raw, () => {
      reply.hijack()
      // The reply's headers (set by hooks, plugins, the handler) may override
      // caching, but the stream is always an unsized text/event-stream.
      const headers = { ...sseHeaders(request.raw.httpVersionMajor), ...reply.getHeaders(), ...options.headers } as OutgoingHttpHeaders
      headers['content-type'] = 'text/event-stream'
      delete headers['content-length']
      return { statusCode: reply.statusCode, headers }
    }, {
      keepAlive: options.keepAlive ?? this.#keepAlive,
      lastEventId: typeof lastEventId === 'string' ? lastEventId : undefined,
      onConnect: options.onConnect as SSEStreamOptions['onConnect'],
      onDisconnect: options.onDisconnect as SSEStreamOptions['onDisconnect'],
      onError: (err) => { request.log.error({ err }, 'event stream error') }
    })
    this.open.add(stream)
    stream.onClose(() => this.open.delete(stream))
    if (!deferHead) stream.open()
    if (this.#closing) stream.close()
    return stream
  }

  /**
   * Runs `callback` on a new stream and closes the stream when it settles. An
   * error before the first event goes to Fastify's error handler as a normal
   * error response; after it, the error is logged and the stream closed. The
   * promise settles once the response is finished and never rejects.
   */
  async run<S extends SSEStream>(reply: FastifyReply, Stream: StreamClass<S>, callback: StreamCallback<S>, options?: StreamReplyOptions<S>): Promise<void> {
    const stream = this.start(reply, Stream, options, true)
    try {
      await callback(stream)
    } catch (error) {
      if (stream.discard()) {
        this.open.delete(stream)
        reply.send(error)
      } else {
        reply.request.log.error({ err: error }, 'event stream callback failed after the stream started')
      }
    }
    stream.close()
    // Settle once the response is finished; a reply is a thenable for that.
    await new Promise<void>((resolve) => { reply.then(resolve, () => resolve()) })
  }

  /** Ends every open stream (from the instance's preClose hook). */
  closeAll (): void {
    this.#closing = true
    for (const stream of this.open) stream.close()
  }
}
