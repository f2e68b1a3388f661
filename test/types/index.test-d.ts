// Type tests of the umbrella plugin (`fastify-datastar`), its named exports,
// the TCP_NODELAY plugin and the framework-free core. They run with tsd
// against the built declarations in dist/ (`npm run test:types`).
import { expectAssignable, expectError, expectNotAssignable, expectType } from 'tsd'
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyPluginCallback } from 'fastify'
import datastar, {
  datastar as namedDatastar,
  fastifyDatastar,
  nodelay as namedNodelay,
  sse as namedSse,
  DatastarStream,
  SSEStream,
  type DatastarClientOptions,
  type DatastarPluginOptions,
  type DatastarReplyOptions,
  type FastifyDatastarOptions,
  type RouteSignals,
  type SSEPluginOptions,
  type SSEReplyOptions,
  type Signals,
  type StreamCallback,
  type StreamReplyOptions
} from 'fastify-datastar'
import nodelay from 'fastify-datastar/nodelay'
import {
  datastarUrl,
  DATASTAR_VERSION,
  encodeComment,
  encodeEvent,
  parseSignals,
  patchElementsEvent,
  patchSignalsEvent,
  readSignals,
  sseHeaders,
  DatastarStream as CoreDatastarStream,
  SSEParser,
  SSEStream as CoreSSEStream,
  type ParsedEvent,
  type PatchMode,
  type Namespace,
  type SSEMessage
} from 'fastify-datastar/core'
import type { OutgoingHttpHeaders } from 'node:http'

const app = Fastify()

// The umbrella plugin and its options.
expectType<FastifyPluginAsync<FastifyDatastarOptions>>(datastar)
expectType<typeof datastar>(fastifyDatastar)
expectAssignable<DatastarPluginOptions>({} as FastifyDatastarOptions)

app.register(datastar)
app.register(datastar, {})
app.register(datastar, { keepAlive: 15_000 })
app.register(datastar, { keepAlive: false })
app.register(datastar, { noDelay: false })
app.register(datastar, { client: { version: '1.0.0-RC.7' } })
app.register(datastar, { client: { source: 'cdn' } })
app.register(datastar, { client: { source: '/assets/datastar@{version}.js', version: '1.0.0' } })
app.register(datastar, { client: { file: './node_modules/datastar/bundles/datastar.js' } })
app.register(datastar, { keepAlive: 5000, noDelay: true, client: { version: '1.0.0', source: '/ds.js', file: './ds.js' }, prefix: '/app' })
app.register(datastar, () => ({ keepAlive: 1000 }))

expectError(app.register(datastar, { keepAlive: 'x' }))
expectError(app.register(datastar, { keepAlive: true }))
expectError(app.register(datastar, { noDelay: 'yes' }))
expectError(app.register(datastar, { client: { version: 1 } }))
expectError(app.register(datastar, { client: { source: false } }))
expectError(app.register(datastar, { client: { file: Buffer.from('x') } }))
expectError(app.register(datastar, { client: 'cdn' }))

// Awaiting registration, as the README shows.
async function boot (): Promise<FastifyInstance> {
  const instance = Fastify()
  await instance.register(datastar, { keepAlive: 10_000 })
  return instance
}
expectType<Promise<FastifyInstance>>(boot())

// Option types exported by name.
expectAssignable<DatastarClientOptions>({ version: '1', source: 'cdn', file: './d.js' })
expectNotAssignable<DatastarClientOptions>({ version: 1 })
expectAssignable<SSEPluginOptions>({ keepAlive: false })
expectNotAssignable<SSEPluginOptions>({ keepAlive: 'x' })
expectAssignable<SSEReplyOptions>({ keepAlive: 1000, headers: { 'x-a': '1' }, onConnect: (stream: SSEStream) => { stream.comment() } })
expectAssignable<DatastarReplyOptions>({ onDisconnect: (stream: DatastarStream) => { stream.close() } })
expectType<StreamReplyOptions<DatastarStream>>({} as DatastarReplyOptions)
expectType<StreamReplyOptions<SSEStream>>({} as SSEReplyOptions)
expectAssignable<StreamCallback<DatastarStream>>(async (stream: DatastarStream) => { await stream.patchSignals({ a: 1 }) })
expectType<Signals>({} as Record<string, unknown>)
expectType<Record<string, unknown>>({} as RouteSignals<{ body: unknown }>)

// Named exports of the umbrella module are the sub-plugins.
expectType<FastifyPluginAsync<DatastarPluginOptions>>(namedDatastar)
expectType<FastifyPluginCallback<SSEPluginOptions>>(namedSse)
expectType<typeof nodelay>(namedNodelay)
expectType<typeof CoreDatastarStream>(DatastarStream)
expectType<typeof CoreSSEStream>(SSEStream)
expectAssignable<SSEStream>({} as DatastarStream)

// The TCP_NODELAY plugin has no options.
expectAssignable<FastifyPluginCallback>(nodelay)
app.register(nodelay)
app.register(nodelay, {})
app.register(nodelay, { prefix: '/x' })

// fastify.datastarUrl() and datastarUrl().
expectType<string>(app.datastarUrl())
expectError(app.datastarUrl({ version: '1' }))
expectType<string>(datastarUrl())
expectType<string>(datastarUrl({}))
expectType<string>(datastarUrl({ version: '1.0.0-RC.7' }))
expectType<string>(datastarUrl({ source: 'cdn' }))
expectType<string>(datastarUrl({ version: '1.0.0', source: 'https://static.example.com/datastar@{version}.js' }))
expectError(datastarUrl({ version: 1 }))
expectError(datastarUrl({ source: null }))
expectError(datastarUrl({ cdn: true }))
expectError(datastarUrl('cdn'))
expectAssignable<string>(DATASTAR_VERSION)
app.after(() => {
  expectType<string>(app.datastarUrl())
})
app.get('/', async function (_request, reply) {
  expectType<string>(this.datastarUrl())
  return reply.type('text/html').send(`<script type="module" src="${this.datastarUrl()}"></script>`)
})

// The framework-free core.
expectType<string>(encodeEvent({}))
expectType<string>(encodeEvent({ event: 'tick', data: '1', id: '7', retry: 2000 }))
expectType<string>(encodeEvent({ data: ['line 1', 'line 2'] }))
expectType<string>(encodeEvent({ data: ['a'] as readonly string[] }))
expectError(encodeEvent({ data: 1 }))
expectError(encodeEvent({ event: 1 }))
expectError(encodeEvent({ id: 7 }))
expectError(encodeEvent({ retry: '2000' }))
expectError(encodeEvent({ comment: 'x' }))
expectError(encodeEvent('data'))
expectAssignable<SSEMessage>({ event: 'x', data: 'y', id: 'z', retry: 1 })
expectType<string>(encodeComment())
expectType<string>(encodeComment('still here'))
expectType<string>(patchElementsEvent('<p id="x"></p>', { mode: 'inner', namespace: 'svg' }))
expectError(patchElementsEvent('<p></p>', { mode: 'sideways' }))
expectType<string>(patchSignalsEvent({ count: 1 }, { onlyIfMissing: true }))
expectType<OutgoingHttpHeaders>(sseHeaders(1))
expectType<Record<string, unknown>>(parseSignals('{"a":1}'))
expectType<Record<string, unknown>>(readSignals({ method: 'GET', query: {}, body: undefined }))
expectType<Record<string, unknown>>(parseSignals('{}', { protoAction: 'remove', constructorAction: 'ignore' }))
expectError(parseSignals('{}', { protoAction: 'drop' }))
expectType<'outer' | 'inner' | 'replace' | 'prepend' | 'append' | 'before' | 'after' | 'remove'>({} as PatchMode)
expectType<'html' | 'svg' | 'mathml'>({} as Namespace)
const parser = new SSEParser()
expectType<ParsedEvent[]>(parser.push('data: x\n\n'))
expectType<string[]>(parser.comments)
expectError(parser.push(1))
