// Type tests of `fastify-datastar/sse`: the plugin's options, reply.sse() in
// both forms, and the SSEStream surface.
import { expectAssignable, expectError, expectNotAssignable, expectType } from 'tsd'
import Fastify, { type FastifyContextConfig, type FastifyPluginCallback, type FastifyReply } from 'fastify'
import sse, {
  sse as namedSse,
  SSEStream,
  type SSEMessage,
  type SSEPluginOptions,
  type SSEReplyOptions,
  type StreamCallback,
  type StreamReplyOptions
} from 'fastify-datastar/sse'
import { encodeComment, encodeEvent, SSEParser, type ParsedEvent } from 'fastify-datastar/core'

const app = Fastify()

// Registration and options.
expectType<FastifyPluginCallback<SSEPluginOptions>>(sse)
expectType<typeof sse>(namedSse)
app.register(sse)
app.register(sse, {})
app.register(sse, { keepAlive: 15_000 })
app.register(sse, { keepAlive: false })
app.register(sse, { keepAlive: 1000, prefix: '/events' })
expectError(app.register(sse, { keepAlive: 'x' }))
expectError(app.register(sse, { keepAlive: true }))
expectError(app.register(sse, { keepAlive: null }))

// The encoders and the parser, from the core.
expectType<string>(encodeEvent({ event: 'hello', data: 'world' }))
expectType<string>(encodeComment('ping'))
expectAssignable<SSEMessage>({ data: ['a', 'b'] })
expectType<ParsedEvent[]>(new SSEParser().push('data: x\n\n'))

app.get('/events', async (request, reply) => {
  // reply.sse(options?) returns the stream at once.
  const stream = reply.sse()
  expectType<SSEStream>(stream)
  expectType<SSEStream>(reply.sse({}))
  expectType<SSEStream>(reply.sse({ keepAlive: 15_000 }))
  expectType<SSEStream>(reply.sse({ keepAlive: false }))
  expectType<SSEStream>(reply.sse({ headers: { 'x-feed': 'news', 'x-count': 2, 'set-cookie': ['a=1', 'b=2'] } }))
  expectType<SSEStream>(reply.sse({
    onConnect: (s) => { expectType<SSEStream>(s) },
    onDisconnect: (s) => { expectType<SSEStream>(s) }
  }))
  expectError(reply.sse({ keepAlive: 'x' }))
  expectError(reply.sse({ keepAlive: true }))
  expectError(reply.sse({ headers: { 'x-flag': true } }))
  expectError(reply.sse({ onConnect: 'yes' }))
  expectError(reply.sse({ retry: 1000 }))
  expectError(reply.sse(42))

  // Writing returns Promise<boolean>; nothing rejects.
  expectType<Promise<boolean>>(stream.send({ data: 'hi' }))
  expectType<Promise<boolean>>(stream.send({ event: 'update', data: ['line 1', 'line 2'], id: '42', retry: 5000 }))
  expectType<Promise<boolean>>(stream.send({ event: 'ping' }))
  expectType<Promise<boolean>>(stream.comment())
  expectType<Promise<boolean>>(stream.comment('still here'))
  expectType<Promise<boolean>>(stream.write(encodeEvent({ data: 'shared' })))
  expectError(stream.send({ data: 1 }))
  expectError(stream.send({ data: [1, 2] }))
  expectError(stream.send({ event: 1 }))
  expectError(stream.send({ id: 42 }))
  expectError(stream.send({ retry: '5000' }))
  expectError(stream.send({ comment: 'x' }))
  expectError(stream.send('hi'))
  expectError(stream.comment(1))
  expectError(stream.write({ data: 'x' }))

  // State, close detection, ids.
  expectType<Promise<void>>(stream.closed)
  expectType<AbortSignal>(stream.signal)
  expectType<string | undefined>(stream.lastEventId)
  expectType<'client' | 'server' | 'overflow' | 'stall' | undefined>(stream.closeReason)
  expectType<boolean>(stream.isOpen)
  expectType<Promise<boolean>>(stream.drained())
  expectType<boolean>(stream.isClosed)
  expectType<number>(stream.bufferedAmount)
  expectType<void>(stream.open())
  expectType<void>(stream.close())
  expectType<boolean>(stream.discard())
  // Internal: the keep-alive tick is not a public method.
  expectError(stream.heartbeat())
  expectType<void>(stream.onClose((s) => { expectType<SSEStream>(s) }))
  expectError(stream.lastEventId = 'x')
  expectError(stream.onClose('x'))
  expectError(stream.close(true))

  await fetch('https://example.com', { signal: stream.signal })
  await stream.closed
  request.log.info({ lastEventId: stream.lastEventId }, 'stream ended')
})

// The callback form returns Promise<void> and closes the stream when it settles.
app.get('/once', async (_request, reply) => {
  const done = reply.sse(async (s) => {
    expectType<SSEStream>(s)
    await s.send({ data: 'once' })
  })
  expectType<Promise<void>>(done)
  expectType<Promise<void>>(reply.sse((s) => s.send({ data: 'sync callback' })))
  expectType<Promise<void>>(reply.sse(async () => {}, { keepAlive: false, headers: { 'x-a': '1' } }))
  expectType<Promise<void>>(reply.sse(async () => {}, { onConnect: (s) => { expectType<SSEStream>(s) } }))
  expectError(reply.sse(async () => {}, { keepAlive: 'x' }))
  expectError(reply.sse({}, async () => {}))
  await done
})

// Handler shapes.
app.get('/a', async (_request, reply) => {
  reply.sse().send({ data: 'fire and forget' })
})
app.get('/b', (_request, reply) => {
  reply.sse().send({ data: 'sync handler' })
})
app.get('/c', (_request, reply) => reply.sse(async (s) => { await s.send({ data: 'x' }) }))
app.get('/d', async (_request, reply) => {
  await reply.sse(async (s) => { await s.send({ data: 'x' }) })
})
app.get('/e', async (_request, reply) => {
  const stream = reply.sse()
  stream.send({ data: 'x' })
  return reply
})
app.route({
  method: 'GET',
  url: '/f',
  handler: async (_request, reply) => reply.sse(async (s) => { s.comment() })
})

// Exported option types.
expectType<SSEReplyOptions>({} as StreamReplyOptions<SSEStream>)
expectAssignable<StreamCallback<SSEStream>>((s: SSEStream) => s.send({ data: 'x' }))
expectAssignable<(options?: SSEReplyOptions) => SSEStream>({} as FastifyReply['sse'])

// Compression: plugin, route (config.sse) and stream settings, and the negotiated encoding.
app.register(sse, { compression: false })
app.register(sse, { compression: true })
app.register(sse, { compression: { encodings: ['br', 'gzip'], preference: 'client', coalesce: 5, br: { level: 5, window: 16 }, gzip: { memLevel: 8 } } })
expectError(app.register(sse, { compression: { encodings: ['lzma'] } }))
expectError(app.register(sse, { compression: { preference: 'mine' } }))
expectError(app.register(sse, { compression: 'gzip' }))
app.get('/route-config', { config: { sse: { compression: false, keepAlive: 5000 } } }, async (_request, reply) => {
  const stream = reply.sse({ compression: { encodings: ['zstd'] } })
  expectType<'zstd' | 'br' | 'gzip' | 'deflate' | 'identity'>(stream.encoding)
})
// Fastify infers a route's config type from the route, so the check is on FastifyContextConfig itself.
expectAssignable<FastifyContextConfig>({ sse: { compression: { coalesce: 0 }, keepAlive: false } })
expectNotAssignable<FastifyContextConfig>({ sse: { compression: 'yes' } })

// Slow clients: a bound and a policy, per plugin, route and stream.
app.register(sse, { maxBufferedBytes: 64 * 1024, hardMaxBufferedBytes: 1024 * 1024, stallTimeout: 5000, overflow: 'drop-oldest' })
expectError(app.register(sse, { overflow: 'block' }))
expectAssignable<FastifyContextConfig>({ sse: { maxBufferedBytes: 1024, overflow: 'close' } })
app.get('/bounded', async (_request, reply) => {
  const stream = reply.sse({ maxBufferedBytes: 1024 * 1024, overflow: 'close' })
  expectType<number>(stream.bufferedAmount)
})
