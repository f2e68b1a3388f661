import { test } from 'tap'
import Fastify from 'fastify'
import datastar, { registry, type Subscriber } from '../../plugins/index.js'
import websocket from '../../plugins/websocket.js'
import { heartbeatTimerCount } from '../../src/heartbeat.js'
import { listen, openStream, waitFor, within } from '../helpers.js'
import { connect, wsUrl } from './helpers.js'

async function mixedApp () {
  const app = Fastify()
  await app.register(datastar, { compression: false })
  await app.register(websocket, { heartbeat: false })
  const feed = app.registry<Subscriber>('feed')
  app.get('/feed', async (_request, reply) => { feed.add(reply.datastar({ keepAlive: false })) })
  app.resource('/ws/json', { connected: (client) => { feed.add(client) } })
  app.resource('/ws/sse', { envelope: 'sse', connected: (client) => { feed.add(client) } })
  return { app, feed }
}

test('a registry broadcast reaches an SSE stream and WebSocket clients, in the JSON or SSE envelope', async (t) => {
  const { app, feed } = await mixedApp()
  const base = await listen(app)
  t.teardown(() => app.close())
  const stream = await openStream(`${base}/feed`)
  const json = await connect(wsUrl(base, '/ws/json'))
  const sse = await connect(wsUrl(base, '/ws/sse'))
  await waitFor(() => feed.size === 3, 'three subscribers')
  const id = await feed.patchSignals({ online: 3 })
  await feed.patchElements('<p id="a">1</p>\n<p id="b">2</p>')

  const event = await within(stream.event(0), 5000, 'SSE event')
  t.equal(event.data, 'signals {"online":3}')
  t.same(JSON.parse(String(await json.message(0))), { event: 'datastar-patch-signals', id, data: 'signals {"online":3}' })
  const second = JSON.parse(String(await json.message(1)))
  t.equal(second.event, 'datastar-patch-elements')
  t.equal(second.data, 'elements <p id="a">1</p>\nelements <p id="b">2</p>', 'data lines joined with LF, as EventSource does')
  t.equal(await sse.message(0), `id: ${id}\nevent: datastar-patch-signals\ndata: signals {"online":3}\n\n`, 'the SSE text the streams get')

  json.socket.close()
  sse.socket.close()
  await waitFor(() => feed.size === 1, 'WebSocket clients leave the registry when they close')
  stream.destroy()
  await waitFor(() => feed.size === 0, 'empty')
})

test('a WebSocket client that resumes with ?lastEventId= gets what it missed, then live events', async (t) => {
  const { app, feed } = await mixedApp()
  const base = await listen(app)
  t.teardown(() => app.close())
  const first = await feed.send({ event: 'n', data: '1' })
  await feed.send({ event: 'n', data: '2' })
  await feed.send({ event: 'n', data: '3' })
  const client = await connect(wsUrl(base, `/ws/json?lastEventId=${encodeURIComponent(first)}`))
  t.same([JSON.parse(String(await client.message(0))).data, JSON.parse(String(await client.message(1))).data], ['2', '3'])
  await feed.send({ event: 'n', data: '4' })
  t.equal(JSON.parse(String(await client.message(2))).data, '4')
  client.socket.close()
})

test('10 000 connect/disconnect cycles of registry members leave no entry, instance or timer behind', async (t) => {
  const app = Fastify()
  await app.register(registry)
  await app.register(websocket, { heartbeat: 20_000 })
  const feed = app.registry<Subscriber>('cycles')
  const route = app.resource('/cycle', { connected: (client) => { feed.add(client) } })
  await app.ready()
  t.teardown(() => app.close())
  const timersBefore = heartbeatTimerCount()
  // injectWS: no TCP, so the cycles cost only what the plugin does.
  for (let round = 0; round < 100; round++) {
    const sockets = await Promise.all(Array.from({ length: 100 }, () => app.injectWS('/cycle')))
    await waitFor(() => feed.size === 100, 'all joined')
    for (const socket of sockets) socket.terminate()
    await waitFor(() => feed.size === 0 && route.instances.size === 0, 'all left')
  }
  t.equal(feed.size, 0)
  t.equal(route.instances.size, 0)
  t.equal(heartbeatTimerCount(), timersBefore)
  t.equal(app.websocketServer.clients.size, 0)
})
