/**
 * How a reply becomes an event stream: shared by `reply.sse()` and
 * `reply.datastar()`. The head is written through the reply's own status and
 * headers (so hooks and plugins such as @fastify/cors still apply), the reply is
 * hijacked only once the head goes out, and the callback form leaves an error
 * thrown before the first event to Fastify's error handler.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify'
import type { OutgoingHttpHeaders } from 'node:http'
import { FST_ERR_SSE_ALREADY_STARTED } from '../src/errors.js'
import { negotiateEncoding } from '../src/sse/compression.js'
import { resolveStreamSettings, validateStreamSettings, type StreamSettings } from '../src/sse/options.js'
import { sseHeaders, type SSEStream, type SSEStreamOptions } from '../src/sse/stream.js'
import { kStreamTracker } from '../src/symbols.js'

/** Options of `reply.sse()` and `reply.datastar()`: the stream's own settings, headers and hooks. */
export interface StreamReplyOptions<S extends SSEStream = SSEStream> extends StreamSettings {
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

/** The stream tracker of an instance on which the SSE plugin is registered. */
export function streamTracker (fastify: FastifyInstance): StreamTracker {
  return (fastify as unknown as Record<symbol, StreamTracker>)[kStreamTracker] as StreamTracker
}

/** The streams of one Fastify instance, so `app.close()` can end them. */
export class StreamTracker {
  readonly open = new Set<SSEStream>()
  #closing = false
  readonly #defaults: StreamSettings
  readonly #byReply = new WeakMap<FastifyReply, SSEStream>()
  // One handler for every stream: it passes itself when it closes.
  readonly #forget = (stream: SSEStream): void => { this.open.delete(stream) }

  constructor (defaults: StreamSettings) {
    this.#defaults = defaults
  }

  /**
   * Turns `reply` into a stream of class `Stream`. With `deferHead`, nothing is
   * written until the first event (or `close()`). `pluginDefaults` are the
   * calling plugin's own settings, between the instance's and the route's.
   */
  start<S extends SSEStream>(reply: FastifyReply, Stream: StreamClass<S>, options: StreamReplyOptions<S> = {}, deferHead = false, pluginDefaults: StreamSettings = {}): S {
    if (reply.sent || reply.raw.headersSent) throw new FST_ERR_SSE_ALREADY_STARTED()
    const request = reply.request
    const lastEventId = request.headers['last-event-id']
    const route = (reply.routeOptions.config as { sse?: StreamSettings }).sse
    // Plugin and route levels were validated when registered; the stream's own options now.
    const settings = resolveStreamSettings([this.#defaults, pluginDefaults, route, validateStreamSettings(options)])
    const compression = settings.compression
    const encoding = compression === false ? 'identity' : negotiateEncoding(request.headers['accept-encoding'], compression)
    const stream = new Stream(reply.raw, () => {
      // The reply's headers (set by hooks, plugins, the handler) may override
      // caching, but the stream is always an unsized text/event-stream.
      const headers = { ...sseHeaders(request.raw.httpVersionMajor), ...reply.getHeaders() } as OutgoingHttpHeaders
      // Header names are case-insensitive: the stream's own options merge in lower case.
      for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value
      headers['content-type'] = 'text/event-stream'
      delete headers['content-length']
      // Only this stream's own coding may be announced: a hook's stale Content-Encoding would lie.
      delete headers['content-encoding']
      if (compression !== false) {
        // Cached answers depend on Accept-Encoding whenever we might compress.
        headers.vary = appendVary(headers.vary, 'Accept-Encoding')
        if (encoding !== 'identity') headers['content-encoding'] = encoding
      }
      return { statusCode: reply.statusCode, headers }
    }, {
      keepAlive: settings.keepAlive,
      compression: compression === false || encoding === 'identity' ? undefined : { ...compression, encoding },
      maxBufferedBytes: settings.maxBufferedBytes,
      hardMaxBufferedBytes: settings.hardMaxBufferedBytes,
      stallTimeout: settings.stallTimeout,
      overflow: settings.overflow,
      lastEventId: typeof lastEventId === 'string' ? lastEventId : undefined,
      onConnect: (connected) => {
        // Only once the head is out does the response stop being Fastify's.
        reply.hijack()
        options.onConnect?.(connected as S)
      },
      onDisconnect: options.onDisconnect as SSEStreamOptions['onDisconnect'],
      onError: logStreamErrors(request.log)
    })
    this.open.add(stream)
    this.#byReply.set(reply, stream)
    stream.onClose(this.#forget)
    if (!deferHead) stream.open()
    // A HEAD request gets the head and nothing else; a closing server, no stream.
    if (request.method === 'HEAD' || this.#closing) stream.close()
    return stream
  }

  /**
   * Runs `callback` on a new stream and closes the stream when it settles. An
   * error before the head is written goes to Fastify's error handler as a
   * normal error response; after it, the error is logged and the stream
   * closed. The promise settles once the stream is closed and never rejects.
   */
  async run<S extends SSEStream>(reply: FastifyReply, Stream: StreamClass<S>, callback: StreamCallback<S>, options?: StreamReplyOptions<S>, pluginDefaults?: StreamSettings): Promise<void> {
    const stream = this.start(reply, Stream, options, true, pluginDefaults)
    try {
      await callback(stream)
      // An empty stream still needs its head; failing here is still before anything went out.
      stream.open()
    } catch (error) {
      if (!stream.isOpen && !reply.raw.headersSent) {
        stream.discard()
        reply.send(error)
        // Settle once Fastify has answered, so a returned promise cannot make it answer twice.
        await new Promise<void>((resolve) => { reply.then(resolve, () => resolve()) })
        return
      }
      reply.request.log.error({ err: error }, 'event stream callback failed')
    }
    stream.close()
  }

  /** The stream a reply became, if any. */
  streamOf (reply: FastifyReply): SSEStream | undefined {
    return this.#byReply.get(reply)
  }

  /** Ends every open stream (from the instance's preClose hook). */
  closeAll (): void {
    this.#closing = true
    for (const stream of this.open) stream.close()
  }
}

function appendVary (vary: OutgoingHttpHeaders['vary'], field: string): string {
  const current = Array.isArray(vary) ? vary.join(', ') : vary === undefined ? '' : String(vary)
  if (current === '') return field
  if (current.split(',').some((entry) => entry.trim() === '*' || entry.trim().toLowerCase() === field.toLowerCase())) return current
  return current + ', ' + field
}

// Made outside start(): the closure keeps the logger only, not the request and reply.
function logStreamErrors (log: FastifyBaseLogger): (err: Error) => void {
  return (err) => {
    // A slow client let go is routine, not a server fault.
    const code = (err as { code?: string }).code
    if (code === 'FST_ERR_SSE_OVERFLOW' || code === 'FST_ERR_SSE_STALLED') log.warn({ err }, 'event stream closed: the client is too slow')
    else log.error({ err }, 'event stream error')
  }
}
