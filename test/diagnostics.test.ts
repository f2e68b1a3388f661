/**
 * The diagnostics channels and stats() over real sockets: each channel is
 * subscribed to by name, as an application does, and its messages checked,
 * with every SSE close reason (client, server, overflow, stall) and a
 * WebSocket client closed for overflow. A channel nobody subscribes to is
 * never published to, and docs/observability.md documents exactly the
 * channels src/diagnostics.ts has.
 */
import t from 'tap'
import Fastify from 'fastify'
import type { Channel } from 'node:diagnostics_channel'
import { readFileSync } from 'node:fs'
import * as diagnostics from '../src/diagnostics.js'
import { closedAsSlowConsumer } from '../src/slow-consumer.js'
import { Registry } from '../src/registry/registry.js'
import type { Subscriber } from '../src/registry/subscriber.js'
import datastar, { type DatastarStream } from '../plugins/index.js'
import websocket, { type ResourceClient } from '../plugins/websocket.js'
import { listen, openStream, recordChannel, waitFor, within } from './helpers.js'
import { connect, wsUrl } from './websocket/helpers.js'

const KiB = 1024

/** The channel objects of src/diagnostics.ts, as node:diagnostics_channel types them. */
const channels = Object.values(diagnostics) as unknown as Channel[]

t.test('docs/observability.md has a ### heading for each channel, and no other', async (t) => {
  const markdown = readFileSync(new URL('../docs/observability.md', import.meta.url), 'utf8')
  const documented = [...markdown.matchAll(/^### `(fastify-datastar:[^`]+)`$/gm)].map((match) => match[1])
  t.same(documented.sort(), channels.map((channel) => String(channel.name)).sort())
})

t.test('a channel nobody subscribes to is never published to', async (t) => {
  const published: string[] = []
  for (const channel of channels) {
    // Node swaps a channel's prototype as it gains or loses subscribers: the spy calls whichever it has now.
    channel.publish = (message: unknown) => {
      published.push(String(channel.name))
      ;(Object.getPrototypeOf(channel) as Channel).publish.call(channel, message)
    }
    t.teardown(() => { delete (channel as { publish?: unknown }).publish })
  }
  t.ok(channels.every((channel) => !channel.hasSubscribers), 'nobody listens')
  // Every channel's occasion: a backplane subscription, a broadcast, a replay, a resync, and its end...
  const registry = new Registry('quiet', { replay: 2 })
  await registry.ready()
  const first = await registry.patchSignals({ n: 1 })
  await registry.patchSignals({ n: 2 })
  const resuming = (lastEventId: string): Subscriber => ({ write: () => {}, onClose: () => {}, isClosed: false, lastEventId })
  registry.add(resuming(first)).add(resuming('0'))
  t.equal(registry.stats().replays + registry.stats().resyncs, 2, 'a replay and a resync happened')
  await registry.close()
  // ...an SSE stream that opens and closes, a WebSocket client that connects and closes.
  const app = Fastify()
  await app.register(datastar, { compression: false })
  await app.register(websocket)
  app.get('/done', (_request, reply) => reply.datastar(async (sse) => { await sse.patchSignals({ done: true }) }))
  app.resource('/room', {})
  t.teardown(() => app.close())
  const base = await listen(app)
  await (await openStream(base + '/done')).ended
  const client = await connect(wsUrl(base, '/room'))
  client.socket.close()
  await client.closed
  t.same(published, [], 'no message was built')
  // The spies do see a publish once someone listens.
  recordChannel(t, 'fastify-datastar:sse:open')
  await (await openStream(base + '/done')).ended
  t.same(published, ['fastify-datastar:sse:open'])
})

t.test('sse:open and sse:close with each reason; the registry counts the slow consumers it lost', async (t) => {
  const opens = recordChannel(t, 'fastify-datastar:sse:open')
  const closes = recordChannel(t, 'fastify-datastar:sse:close')
  const app = Fastify()
  await app.register(datastar, { compression: false })
  const streams = new Map<string, DatastarStream>()
  app.get('/feed', async (request, reply) => {
    const key = (request.query as { key: string }).key
    // 'overflow': a hard bound of 4 soft ones, no stall in this test's time; 'stall': 200 ms above the soft bound.
    const stream = reply.datastar({ keepAlive: false, maxBufferedBytes: 64 * KiB, hardMaxBufferedBytes: key === 'overflow' ? 256 * KiB : undefined, stallTimeout: key === 'stall' ? 200 : 60_000 })
    streams.set(key, stream)
    app.registry('feed').add(stream, { key })
  })
  app.get('/done', (_request, reply) => reply.datastar(async (sse) => { await sse.patchSignals({ done: true }) }))
  t.teardown(() => app.close())
  const base = await listen(app)
  const feed = app.registry('feed')
  const clients = await Promise.all(['client', 'overflow', 'stall'].map((key) => openStream(`${base}/feed?key=${key}`)))
  t.teardown(() => { for (const client of clients) client.destroy() })
  await waitFor(() => feed.size === 3, 'all three subscribed')
  const stream = (key: string): DatastarStream => streams.get(key) as DatastarStream
  t.same(opens.map((message) => message.stream), [stream('client'), stream('overflow'), stream('stall')], 'each stream, once its head is written')

  await (await openStream(base + '/done')).ended
  t.equal(closes.at(-1)?.reason, 'server', 'the handler ended it')
  clients[0]?.destroy()
  await within(stream('client').closed, 5000, 'the client went away')
  t.same(closes.at(-1), { stream: stream('client'), reason: 'client' })

  clients[1]?.response.pause()
  clients[2]?.response.pause()
  // The kernel takes tens of MiB for a client that stops reading before the server holds any:
  // past that, 'overflow' passes its hard bound at once; 'stall' is topped up only while it
  // holds less than its soft bound, then left above it until its clock runs out. Bounded rounds.
  const chunk = 'x'.repeat(128 * KiB)
  for (let round = 0; round < 5000 && !(stream('overflow').isClosed && stream('stall').isClosed); round++) {
    if (!stream('overflow').isClosed) await feed.to('overflow').patchSignals({ chunk })
    if (stream('stall').bufferedAmount <= 64 * KiB) await feed.to('stall').patchSignals({ chunk })
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  t.same(closes.slice(-2).map((message) => [message.stream, message.reason]).sort(), [[stream('overflow'), 'overflow'], [stream('stall'), 'stall']].sort())
  t.equal(closes.length, 4, 'one close per stream that opened, the /done one included')
  t.match(feed.stats(), { members: 0, slowConsumerCloses: 2 }, 'overflow and stall are slow-consumer closes; the client that left is not')
})

t.test('websocket:open and websocket:close; resource.stats() counts broadcasts and the client lost to overflow', async (t) => {
  const opens = recordChannel(t, 'fastify-datastar:websocket:open')
  const closes = recordChannel(t, 'fastify-datastar:websocket:close')
  const app = Fastify()
  await app.register(websocket, { maxBufferedBytes: 64 * KiB, hardMaxBufferedBytes: 64 * KiB, heartbeat: false })
  const clients = new Map<string, ResourceClient>()
  const route = app.resource('/room', { connected: (client) => { clients.set(String(client.request.headers['x-role']), client) } })
  t.teardown(() => app.close())
  const base = await listen(app)
  const stalled = await connect(wsUrl(base, '/room'), undefined, { headers: { 'x-role': 'stalled' } })
  const reader = await connect(wsUrl(base, '/room'), undefined, { headers: { 'x-role': 'reader' } })
  await waitFor(() => clients.size === 2, 'both connected')
  const room = route.get('/room')
  if (room === undefined) throw new Error('no room')
  t.same(opens.map((message) => message.client), [clients.get('stalled'), clients.get('reader')])
  t.same(room.stats(), { members: 2, events: 0, bytes: 0, slowConsumerCloses: 0 })

  ;(stalled.socket as unknown as { _socket: { pause: () => void } })._socket.pause()
  const chunk = 'x'.repeat(16 * KiB)
  let events = 0
  let bytes = 0
  for (let round = 0; round < 5000 && !(clients.get('stalled') as ResourceClient).isClosed; round++) {
    bytes += room.broadcast(chunk) * chunk.length
    events++
    if (round % 20 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await waitFor(() => closes.length === 1, 'the stalled client closed')
  t.match(closes[0], { client: clients.get('stalled'), code: 1006, error: { code: 'FST_ERR_WS_OVERFLOW' } })
  t.same(room.stats(), { members: 1, events, bytes, slowConsumerCloses: 1 })

  reader.socket.close(4001, 'bye')
  await waitFor(() => closes.length === 2, 'the reader closed')
  t.same(closes[1], { client: clients.get('reader'), code: 4001, reason: 'bye', error: undefined })
  stalled.socket.terminate()
})

t.test('closedAsSlowConsumer: an SSE close reason or a WebSocket close error of the policy', async (t) => {
  t.equal(closedAsSlowConsumer({ closeReason: 'overflow' }), true)
  t.equal(closedAsSlowConsumer({ closeReason: 'stall' }), true)
  t.equal(closedAsSlowConsumer({ closeReason: 'client' }), false)
  t.equal(closedAsSlowConsumer({ closeError: { code: 'FST_ERR_WS_OVERFLOW' } }), true)
  t.equal(closedAsSlowConsumer({ closeError: { code: 'FST_ERR_WS_STALLED' } }), true)
  t.equal(closedAsSlowConsumer({ closeError: { code: 'FST_ERR_WS_HEARTBEAT_TIMEOUT' } }), false)
  t.equal(closedAsSlowConsumer({ closeError: undefined }), false)
  t.equal(closedAsSlowConsumer({}), false, 'a subscriber of another kind')
})
