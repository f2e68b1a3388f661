// Type tests of the registries: fastify.registry(), broadcasts, long-poll, options.
import { expectError, expectType } from 'tsd'
import Fastify, { type FastifyReply } from 'fastify'
import datastar, { type DatastarStream } from 'fastify-datastar'
import registryPlugin, { Registry, type Broadcaster, type PollResult, type Subscriber } from 'fastify-datastar/registry'

const app = Fastify()
app.register(datastar, { registry: { replay: 500, coalesce: 2 } })
app.register(registryPlugin, { replay: 0 })
expectError(app.register(datastar, { registry: { replay: 'all' } }))
expectError(app.register(registryPlugin, { onError: () => {} }))

const feed = app.registry('feed')
expectType<Registry<DatastarStream>>(feed)
expectType<Promise<void>>(feed.drained())
expectType<Registry<DatastarStream>>(app.registry('paged', { maxReplayBytes: 1 << 20, coalesce: false }))
expectType<Registry<DatastarStream>>(app.registry('feed', { replay: 10, onResync: (sse, lastEventId) => { expectType<DatastarStream>(sse); expectType<string>(lastEventId) } }))
expectType<Promise<string>>(feed.patchElements('<p id="x"></p>', { mode: 'inner', except: undefined }))
expectType<Promise<string>>(feed.patchSignals({ a: 1 }, { filter: (sse) => sse.encoding === 'identity' }))
expectType<Promise<string>>(feed.send({ event: 'tick', data: '1' }))
expectError(feed.send({ event: 'tick', data: '1', id: '7' }))
expectType<Broadcaster<DatastarStream>>(feed.to('session-1'))
expectType<Promise<string>>(feed.to('session-1').redirect('/next'))
// Every Datastar method, with the event's options and the broadcast's, resolving with the id.
expectType<Promise<string>>(feed.dispatchCustomEvent('saved', { id: 1 }, { selector: '#form', filter: (sse) => !sse.isClosed }))
expectType<Promise<string>>(feed.to('session-1').removeElementsById(['row-1'], { retryDuration: 500, except: [] }))
expectType<Promise<string>>(feed.prefetch('/next'))
expectError(feed.patchSignals({ a: 1 }, { except: 'not a stream' }))
expectError(feed.patchSignals({ a: 1 }, { mode: 'inner' }))
expectType<Promise<DatastarStream[]>>(feed.notify((sse) => sse.patchSignals({ online: feed.size })))
expectType<Promise<PollResult>>(feed.poll('12', { timeout: 1000 }))
expectType<number>(feed.size)
expectType<DatastarStream[]>(feed.get('session-1'))

app.get('/feed', async (request, reply) => {
  const sse = reply.datastar()
  expectType<Registry<DatastarStream>>(app.registry('feed').add(sse, { key: 'k', lastEventId: '3' }))
})
app.get('/poll', (request, reply) => {
  expectType<Promise<FastifyReply>>(reply.longPoll('feed', { timeout: 25_000, cursor: '3', key: 'k' }))
  return reply.longPoll(app.registry('feed'))
})

// Any transport can subscribe: a custom one.
const custom: Subscriber = { write: () => true, onClose: () => {}, isClosed: false }
expectType<Registry<Subscriber>>(app.registry<Subscriber>('mixed').add(custom))
expectType<Registry<Subscriber>>(new Registry('standalone'))
