import t from 'tap'
import Fastify from 'fastify'
import http from 'node:http'
import datastar, { type DatastarReplyOptions, type DatastarStream } from '../../plugins/index.js'
import { heartbeatTimerCount } from '../../src/heartbeat.js'
import { listen, logCapture, openStream, waitFor, within } from '../helpers.js'

/** The counter part of an in-memory id (`<start time>-<counter>`). */
function counter (id: string): number {
  return Number(id.split('-').at(-1))
}

async function feedApp (streamOptions: DatastarReplyOptions = {}) {
  const logs = logCapture()
  const app = Fastify({ logger: { level: 'warn', stream: logs.stream } })
  await app.register(datastar, { compression: false })
  app.get('/feed', async (request, reply) => {
    const key = (request.query as { key?: string }).key
    app.registry('feed').add(reply.datastar({ keepAlive: false, ...streamOptions }), { key })
  })
  app.get('/poll', (_request, reply) => reply.longPoll('feed', { timeout: 200 }))
  return { app, logs }
}

t.test('app.registry(name): one registry per name, options only at creation', async (t) => {
  const { app } = await feedApp()
  t.teardown(() => app.close())
  const feed = app.registry('feed', { replay: 10 })
  t.equal(app.registry('feed'), feed)
  t.not(app.registry('other'), feed, 'many per app')
  t.throws(() => app.registry('feed', { replay: 5 }), { code: 'FST_ERR_REGISTRY_INVALID_OPTION' })
  await t.rejects(async () => { await Fastify().register(datastar, { registry: { replay: -3 } }) }, { code: 'FST_ERR_REGISTRY_INVALID_OPTION' })
})

t.test('a broadcast reaches every SSE client; unicast by key reaches one', async (t) => {
  const { app } = await feedApp()
  t.teardown(() => app.close())
  const base = await listen(app)
  const alice = await openStream(base + '/feed?key=alice')
  const bob = await openStream(base + '/feed?key=bob')
  await waitFor(() => app.registry('feed').size === 2, 'both subscribed')
  await app.registry('feed').patchElements('<p id="news">hello</p>')
  await app.registry('feed').to('bob').patchSignals({ forBob: true })
  t.equal((await within(alice.event(0), 5000, 'alice')).data, 'elements <p id="news">hello</p>')
  t.match((await within(bob.event(0), 5000, 'bob')).id, /^\d+-1$/)
  t.equal((await within(bob.event(1), 5000, 'bob unicast')).data, 'signals {"forBob":true}')
  alice.destroy()
  await waitFor(() => app.registry('feed').size === 1, 'removal on disconnect')
  bob.destroy()
  await waitFor(() => app.registry('feed').size === 0, 'empty')
})

t.test('a stalled client is closed at its bound while the others receive everything', async (t) => {
  const { app, logs } = await feedApp({ maxBufferedBytes: 256 * 1024 })
  t.teardown(() => app.close())
  const base = await listen(app)
  const stalled = await openStream(base + '/feed')
  const reader = await openStream(base + '/feed')
  await waitFor(() => app.registry('feed').size === 2, 'both subscribed')
  stalled.response.pause()
  const payload = 'x'.repeat(8 * 1024)
  let count = 0
  // Bounded: at most 4000 events of 8 KiB (32 MiB), until the stalled client is let go.
  while (count < 4000 && app.registry('feed').size === 2) {
    await app.registry('feed').patchSignals({ i: count++, payload })
    if (count % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  t.equal(app.registry('feed').size, 1, 'the stalled client was let go')
  await app.registry('feed').patchSignals({ i: count++, payload: 'after' })
  await within(reader.event(count - 1), 10_000, 'the reader got everything')
  t.same(reader.events.map((event) => counter(event.id)), Array.from({ length: count }, (_, i) => i + 1), 'in order, nothing lost')
  t.match(logs.lines, [{ level: 40, err: { code: 'FST_ERR_SSE_OVERFLOW' } }])
})

t.test('drop-oldest keeps a slow latest-state client open with the newest events', async (t) => {
  const { app } = await feedApp({ maxBufferedBytes: 32 * 1024, overflow: 'drop-oldest' })
  t.teardown(() => app.close())
  const base = await listen(app)
  const slow = await openStream(base + '/feed')
  await waitFor(() => app.registry('feed').size === 1, 'subscribed')
  slow.response.pause()
  const payload = 'y'.repeat(8 * 1024)
  for (let i = 0; i < 600; i++) {
    await app.registry('feed').patchSignals({ i, payload })
    if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  t.equal(app.registry('feed').size, 1, 'still subscribed')
  slow.response.resume()
  await within(waitFor(() => counter(slow.events.at(-1)?.id ?? '') === 600, 'the newest event', 10_000), 11_000, 'the newest event')
  const ids = slow.events.map((event) => counter(event.id))
  t.ok(ids.length < 600, 'older events were dropped')
  t.same(ids, [...ids].sort((a, b) => a - b), 'in order')
  slow.destroy()
})

t.test('a client that reconnects with Last-Event-ID gets what it missed, then live events', async (t) => {
  const { app } = await feedApp()
  t.teardown(() => app.close())
  const base = await listen(app)
  const first = await openStream(base + '/feed')
  await waitFor(() => app.registry('feed').size === 1, 'subscribed')
  await app.registry('feed').patchSignals({ n: 1 })
  const seen = await within(first.event(0), 5000, 'first event')
  first.destroy()
  await waitFor(() => app.registry('feed').size === 0, 'gone')
  await app.registry('feed').patchSignals({ n: 2 })
  await app.registry('feed').patchSignals({ n: 3 })
  const again = await openStream(base + '/feed', { headers: { 'last-event-id': seen.id } })
  await app.registry('feed').patchSignals({ n: 4 })
  await within(again.event(2), 5000, 'replay then live')
  t.same(again.events.map((event) => event.data), ['signals {"n":2}', 'signals {"n":3}', 'signals {"n":4}'])
  again.destroy()
})

t.test('long-poll over HTTP: held then answered, 204 on timeout, 205 when too old, abort frees the waiter', async (t) => {
  const { app } = await feedApp()
  t.teardown(() => app.close())
  const base = await listen(app)
  const held = fetch(base + '/poll')
  await waitFor(() => app.registry('feed').waiting === 1, 'a held request')
  const one = await app.registry('feed').patchSignals({ n: 1 })
  const answered = await held
  t.equal(answered.status, 200)
  t.equal(answered.headers.get('content-type'), 'text/event-stream')
  t.equal(answered.headers.get('x-registry-cursor'), one)
  t.ok((await answered.text()).startsWith(`id: ${one}\nevent: datastar-patch-signals\ndata: signals {"n":1}`))

  const timedOut = await fetch(base + '/poll?cursor=' + one)
  t.equal(timedOut.status, 204)
  t.equal(timedOut.headers.get('x-registry-cursor'), one)
  const two = await app.registry('feed').patchSignals({ n: 2 })
  const caughtUp = await fetch(base + '/poll', { headers: { 'last-event-id': one } })
  t.equal(caughtUp.status, 200, 'events newer than the cursor come at once')
  t.equal(caughtUp.headers.get('x-registry-cursor'), two)
  t.equal((await fetch(base + '/poll?cursor=not-an-id')).status, 205)

  const request = http.get(base + '/poll?cursor=' + two)
  request.on('error', () => {})
  await waitFor(() => app.registry('feed').waiting === 1, 'held')
  request.destroy()
  await waitFor(() => app.registry('feed').waiting === 0, 'the waiter leaves with the client')
})

t.test('app.close() closes registries, answers waiters, and leaves no timer', async (t) => {
  const { app } = await feedApp()
  app.get('/slow-poll', (_request, reply) => reply.longPoll('feed', { timeout: 60_000 }))
  const base = await listen(app)
  const timers = heartbeatTimerCount()
  const clients = await Promise.all([1, 2, 3].map(() => openStream(base + '/feed')))
  await waitFor(() => app.registry('feed').size === 3, 'subscribed')
  const poll = fetch(base + '/slow-poll').catch(() => undefined)
  await waitFor(() => app.registry('feed').waiting === 1, 'held')
  await app.close()
  await Promise.all(clients.map((client) => client.ended))
  t.equal((await poll)?.status, 204, 'the held request was answered')
  t.equal(app.registry('feed').waiting, 0)
  t.equal(heartbeatTimerCount(), timers)
  t.rejects(app.registry('feed').patchSignals({}), { code: 'FST_ERR_REGISTRY_CLOSED' })
})

t.test('200 subscribe/disconnect cycles over real sockets leave no entry, stream or timer', async (t) => {
  const app = Fastify()
  await app.register(datastar, { compression: false })
  const streams = new Set<DatastarStream>()
  app.get('/feed', async (_request, reply) => {
    const stream = reply.datastar({ keepAlive: 20 })
    streams.add(stream)
    stream.onClose(() => streams.delete(stream))
    app.registry('churn').add(stream)
  })
  t.teardown(() => app.close())
  const base = await listen(app)
  const timers = heartbeatTimerCount()
  for (let round = 0; round < 20; round++) {
    const clients = await Promise.all(Array.from({ length: 10 }, () => openStream(base + '/feed')))
    await app.registry('churn').patchSignals({ round })
    await Promise.all(clients.map((client) => within(client.event(0), 5000, 'event')))
    for (const client of clients) client.destroy()
    await waitFor(() => app.registry('churn').size === 0 && streams.size === 0, 'all gone')
  }
  t.equal(app.registry('churn').size, 0)
  t.equal(streams.size, 0)
  t.equal(heartbeatTimerCount(), timers, 'no heartbeat timer left')
})

t.test('every 204 and 205 carries a cursor, also on an empty registry, so a client loop cannot spin on a stale one', async (t) => {
  const { app } = await feedApp()
  t.teardown(() => app.close())
  const base = await listen(app)
  // After a restart: the registry has no event, the client still has its old cursor.
  const stale = await fetch(base + '/poll?cursor=1700000000000-42')
  t.equal(stale.status, 205)
  const cursor = stale.headers.get('x-registry-cursor')
  t.equal(cursor, '0-0', 'the start cursor')
  // The client loop of docs/long-poll.md, bounded in count and time: it follows the cursor it is given.
  let requests = 0
  let next = cursor as string
  const until = Date.now() + 1000
  while (Date.now() < until && requests < 100) {
    const response = await fetch(base + '/poll?cursor=' + encodeURIComponent(next))
    requests++
    await response.arrayBuffer()
    next = response.headers.get('x-registry-cursor') ?? next
  }
  t.ok(requests <= 8, `the loop waits on the server instead of spinning (${requests} requests in 1 s, each held up to 200 ms)`)
  const held = fetch(base + '/poll?cursor=0-0')
  await waitFor(() => app.registry('feed').waiting === 1, 'held from the start cursor')
  const first = await app.registry('feed').patchSignals({ n: 1 })
  const answered = await held
  t.equal(answered.status, 200)
  t.equal(answered.headers.get('x-registry-cursor'), first, 'and the first event comes to it')
})
