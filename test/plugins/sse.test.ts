import t from 'tap'
import Fastify from 'fastify'
import http from 'node:http'
import http2 from 'node:http2'
import { once } from 'node:events'
import datastar, { sse } from '../../plugins/index.js'
import { heartbeatTimerCount, heartbeatIntervals } from '../../src/heartbeat.js'
import { SSEParser } from '../../src/sse/parser.js'
import { listen, logCapture, openStream, waitFor } from '../helpers.js'
import { kHeartbeat } from '../../src/symbols.js'

t.test('reply.sse() writes the event-stream head at once, before any event', async (t) => {
  const app = Fastify()
  await app.register(sse)
  app.get('/events', async (_request, reply) => {
    reply.sse()
  })
  t.teardown(() => app.close())
  const client = await openStream(await listen(app) + '/events')
  t.equal(client.status, 200)
  t.equal(client.headers['content-type'], 'text/event-stream')
  t.equal(client.headers['cache-control'], 'no-cache')
  t.equal(client.headers.connection, 'keep-alive')
  t.equal(client.headers['x-accel-buffering'], 'no')
  t.equal(client.headers['content-length'], undefined)
  t.equal(client.text(), '', 'no event was needed to see the head')
  client.destroy()
})

t.test('send, comment and close write the SSE format in order', async (t) => {
  const app = Fastify()
  await app.register(sse)
  app.get('/events', async (request, reply) => {
    const stream = reply.sse()
    t.equal(stream.lastEventId, '41')
    stream.send({ event: 'a', data: 'one\r\ntwo', id: '42', retry: 500 })
    stream.comment('hello')
    stream.send({ data: ['x', 'y'] })
    stream.close()
    stream.close()
  })
  t.teardown(() => app.close())
  const client = await openStream(await listen(app) + '/events', { headers: { 'last-event-id': '41' } })
  await client.ended
  t.equal(client.text(), 'event: a\nid: 42\nretry: 500\ndata: one\ndata: two\n\n: hello\n\ndata: x\ndata: y\n\n')
})

t.test('an invalid field throws a coded error and writes nothing', async (t) => {
  const app = Fastify()
  await app.register(sse)
  app.get('/events', async (_request, reply) => {
    const stream = reply.sse()
    t.throws(() => stream.send({ event: 'a\nevent: injected', data: 'x' }), { code: 'FST_ERR_SSE_INVALID_FIELD' })
    t.throws(() => stream.send({ id: '1\r2', data: 'x' }), { code: 'FST_ERR_SSE_INVALID_FIELD' })
    stream.send({ data: 'ok' })
    stream.close()
  })
  t.teardown(() => app.close())
  const client = await openStream(await listen(app) + '/events')
  await client.ended
  t.equal(client.text(), 'data: ok\n\n')
})

t.test('the four handler shapes work with no Fastify warning or error', async (t) => {
  const logs = logCapture()
  const app = Fastify({ logger: { level: 'trace', stream: logs.stream } })
  await app.register(datastar)
  app.get('/returns-nothing', async (_request, reply) => {
    const stream = reply.datastar()
    stream.patchSignals({ shape: 1 })
    setImmediate(() => stream.close())
  })
  app.get('/returns-reply', async (_request, reply) => {
    const stream = reply.datastar()
    stream.patchSignals({ shape: 2 })
    setImmediate(() => stream.close())
    return reply
  })
  app.get('/returns-promise', (_request, reply) => reply.datastar(async (stream) => {
    await stream.patchSignals({ shape: 3 })
  }))
  app.get('/awaits', async (_request, reply) => {
    await reply.datastar(async (stream) => {
      await stream.patchSignals({ shape: 4 })
    })
  })
  t.teardown(() => app.close())
  const base = await listen(app)
  for (const [index, path] of ['/returns-nothing', '/returns-reply', '/returns-promise', '/awaits'].entries()) {
    const client = await openStream(base + path)
    await client.ended
    t.equal(client.status, 200, path)
    t.equal(client.text(), `event: datastar-patch-signals\ndata: signals {"shape":${index + 1}}\n\n`, path)
  }
  await waitFor(() => logs.lines.filter((line) => line.msg === 'request completed').length === 4, 'four completed requests')
  const complaints = logs.lines.filter((line) => (line.level as number) >= 40)
  t.same(complaints, [], 'nothing logged at warn or above')
})

t.test('the callback form: an error before the first event is a normal error response', async (t) => {
  const app = Fastify()
  await app.register(datastar)
  app.setErrorHandler((error, _request, reply) => {
    reply.code(418).send({ handled: (error as Error).message })
  })
  app.get('/early', (_request, reply) => reply.datastar(async () => {
    throw new Error('before any event')
  }))
  app.get('/invalid', (_request, reply) => reply.datastar(async (stream) => {
    await stream.patchElements('<p id="x"></p>', { mode: 'sideways' as 'inner' })
  }))
  t.teardown(() => app.close())
  const base = await listen(app)
  const early = await fetch(base + '/early')
  t.equal(early.status, 418)
  t.same(await early.json(), { handled: 'before any event' })
  const invalid = await fetch(base + '/invalid')
  t.equal(invalid.status, 418)
  t.match(await invalid.json(), { handled: /Invalid Datastar patch mode "sideways"/ })
})

t.test('the callback form: an error after the first event is logged and the stream closed', async (t) => {
  const logs = logCapture()
  const app = Fastify({ logger: { level: 'info', stream: logs.stream } })
  await app.register(datastar)
  app.get('/late', (_request, reply) => reply.datastar(async (stream) => {
    await stream.patchSignals({ step: 1 })
    throw new Error('after an event')
  }))
  t.teardown(() => app.close())
  const client = await openStream(await listen(app) + '/late')
  await client.ended
  t.equal(client.events.length, 1)
  await waitFor(() => logs.lines.some((line) => line.level === 50), 'the error log line')
  const line = logs.lines.find((line) => line.level === 50) as { msg: string, err: { message: string } }
  t.equal(line.err.message, 'after an event')
  t.equal(line.msg, 'event stream callback failed')
})

t.test('hooks and plugins set headers on the stream; onResponse runs when it ends', async (t) => {
  const app = Fastify()
  await app.register(import('@fastify/cors'), { origin: 'https://app.example' })
  await app.register(import('@fastify/helmet'))
  await app.register(datastar)
  let responded = 0
  app.addHook('onRequest', async (_request, reply) => { reply.header('x-on-request', 'yes') })
  app.addHook('preHandler', async (_request, reply) => { reply.header('x-pre-handler', 'yes') })
  app.addHook('onResponse', async () => { responded++ })
  app.get('/feed', async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    const stream = reply.datastar()
    stream.patchSignals({ ok: true })
    setImmediate(() => stream.close())
  })
  t.teardown(() => app.close())
  const client = await openStream(await listen(app) + '/feed', { headers: { origin: 'https://app.example' } })
  t.equal(client.headers['access-control-allow-origin'], 'https://app.example', '@fastify/cors')
  t.equal(client.headers['x-content-type-options'], 'nosniff', '@fastify/helmet')
  t.equal(client.headers['x-on-request'], 'yes')
  t.equal(client.headers['x-pre-handler'], 'yes')
  t.equal(client.headers['cache-control'], 'no-store', 'the handler may choose its caching')
  t.equal(client.headers['content-type'], 'text/event-stream')
  await client.ended
  await waitFor(() => responded === 1, 'onResponse')
  t.equal(responded, 1)
})

t.test('a POST stream stays open after its body is read and reports the departure once', async (t) => {
  const app = Fastify()
  await app.register(datastar)
  let disconnects = 0
  let requestClosed = false
  let closedSettled = 0
  let aborted = false
  let reason: string | undefined
  app.post('/commands', async (request, reply) => {
    request.raw.on('close', () => { requestClosed = true })
    const stream = reply.datastar({ onDisconnect: () => { disconnects++ } })
    stream.closed.then(() => { closedSettled++ })
    stream.signal.addEventListener('abort', () => { aborted = true })
    stream.onClose((s) => { reason = s.closeReason })
    stream.patchSignals(request.readSignals())
    await waitFor(() => requestClosed, 'the request close event')
    await stream.patchSignals({ stillOpen: true })
  })
  t.teardown(() => app.close())
  const client = await openStream(await listen(app) + '/commands', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"hello":"world"}'
  })
  t.same(JSON.parse((await client.event(0)).data.replace(/^signals /, '')), { hello: 'world' })
  t.same(JSON.parse((await client.event(1)).data.replace(/^signals /, '')), { stillOpen: true }, 'still open after the body was read')
  t.equal(disconnects, 0)
  client.destroy()
  await waitFor(() => disconnects === 1 && closedSettled === 1, 'the disconnect')
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(disconnects, 1, 'exactly once')
  t.equal(closedSettled, 1)
  t.equal(aborted, true)
  t.equal(reason, 'client')
})

t.test('backpressure: a stalled client makes writes wait, and its departure settles them at once', async (t) => {
  const app = Fastify()
  await app.register(sse)
  let pending: Promise<boolean> | undefined
  let blocked = false
  let stream: import('../../src/sse/stream.js').SSEStream | undefined
  const chunk = 'x'.repeat(256 * 1024)
  app.get('/flood', async (_request, reply) => {
    stream = reply.sse({ keepAlive: false })
    // Bounded: write until a write stays unsettled, i.e. the client's socket is full.
    for (let i = 0; i < 2000 && !blocked; i++) {
      const written = stream.send({ data: chunk })
      const settled = await Promise.race([written.then(() => true), new Promise((resolve) => setTimeout(resolve, 100, false))])
      if (settled === false) {
        blocked = true
        pending = written
      }
    }
  })
  t.teardown(() => app.close())
  const client = await openStream(await listen(app) + '/flood')
  client.response.pause()
  await waitFor(() => blocked, 'a write that waits for drain')
  const before = stream?.bufferedAmount ?? 0
  t.ok(before > 0, 'the blocked bytes are counted')
  stream?.[kHeartbeat]()
  t.equal(stream?.bufferedAmount, before, 'no heartbeat is queued behind waiting events')
  const extra = stream?.send({ data: 'queued behind' })
  t.equal(stream?.bufferedAmount, before + 'data: queued behind\n\n'.length, 'later events queue in order')
  client.destroy()
  t.equal(await pending, false, 'the waiting write settles, with false, when the client leaves')
  t.equal(await extra, false)
  t.equal(stream?.isClosed, true)
})

t.test('backpressure: queued events go out in order once the client reads again', async (t) => {
  const app = Fastify()
  await app.register(sse)
  const count = 400
  const payload = 'y'.repeat(8 * 1024)
  let waited = false
  app.get('/burst', (_request, reply) => reply.sse(async (stream) => {
    const writes: Array<Promise<boolean>> = []
    for (let i = 0; i < count; i++) writes.push(stream.send({ id: String(i), data: payload }))
    // 3 MiB in one tick: the socket must have asked to wait at least once.
    waited = stream.bufferedAmount > 0
    t.same(new Set(await Promise.all(writes)), new Set([true]))
  }, { keepAlive: false, maxBufferedBytes: 8 * 1024 * 1024 }))
  t.teardown(() => app.close())
  const client = await openStream(await listen(app) + '/burst')
  client.response.pause()
  await new Promise((resolve) => setTimeout(resolve, 50))
  client.response.resume()
  await client.ended
  t.ok(waited, 'writes queued while the socket was full')
  t.equal(client.events.length, count)
  t.same(client.events.map((event) => event.id), Array.from({ length: count }, (_, i) => String(i)), 'in order')
})

t.test('keep-alive comments: plugin default, per-stream setting, false, and cleared on close', async (t) => {
  const app = Fastify()
  await app.register(sse, { keepAlive: 20 })
  const streams: Array<import('../../src/sse/stream.js').SSEStream> = []
  app.get('/default', async (_request, reply) => { streams.push(reply.sse()) })
  app.get('/faster', async (_request, reply) => { streams.push(reply.sse({ keepAlive: 10 })) })
  app.get('/none', async (_request, reply) => { streams.push(reply.sse({ keepAlive: false })) })
  t.teardown(() => app.close())
  const base = await listen(app)
  const before = heartbeatTimerCount()
  const byDefault = await openStream(base + '/default')
  const faster = await openStream(base + '/faster')
  const none = await openStream(base + '/none')
  t.equal(heartbeatTimerCount(), before + 2, 'one shared timer per interval in use; none for keepAlive: false')
  await byDefault.comment(2)
  await faster.comment(2)
  t.equal(byDefault.text().startsWith(':\n\n'), true)
  t.equal(none.text(), '')
  for (const stream of streams) stream.close()
  await Promise.all([byDefault.ended, faster.ended, none.ended])
  t.equal(heartbeatTimerCount(), before, 'timers stop with their last stream')
})

t.test('the default keep-alive is 30 s', async (t) => {
  const app = Fastify()
  await app.register(sse)
  let stream: import('../../src/sse/stream.js').SSEStream | undefined
  app.get('/events', async (_request, reply) => { stream = reply.sse() })
  t.teardown(() => app.close())
  t.notOk(heartbeatIntervals().includes(30_000))
  await openStream(await listen(app) + '/events')
  t.ok(heartbeatIntervals().includes(30_000), 'a 30 000 ms heartbeat runs for it')
  stream?.close()
  t.notOk(heartbeatIntervals().includes(30_000), 'and stops with it')
})

t.test('an invalid keepAlive is refused at register time', async (t) => {
  await t.rejects(async () => { await Fastify().register(sse, { keepAlive: -1 }) }, { code: 'FST_ERR_SSE_INVALID_OPTION' })
  await t.rejects(async () => { await Fastify().register(datastar, { keepAlive: 'soon' as unknown as number }) }, { code: 'FST_ERR_SSE_INVALID_OPTION' })
})

t.test('a reply can become one stream only', async (t) => {
  const app = Fastify()
  await app.register(sse)
  app.get('/twice', async (_request, reply) => {
    const stream = reply.sse()
    t.throws(() => reply.sse(), { code: 'FST_ERR_SSE_ALREADY_STARTED' })
    stream.close()
  })
  t.teardown(() => app.close())
  const response = await app.inject('/twice')
  t.equal(response.statusCode, 200)
})

t.test('app.close() ends open streams promptly and leaves no timer or listener', async (t) => {
  const app = Fastify()
  await app.register(datastar)
  let disconnects = 0
  let responseListeners = -1
  app.get('/feed', async (_request, reply) => {
    const stream = reply.datastar({ keepAlive: 25, onDisconnect: () => { disconnects++ } })
    stream.onClose(() => { responseListeners = reply.raw.listenerCount('drain') })
    stream.patchSignals({ open: true })
  })
  const base = await listen(app)
  const clients = await Promise.all([1, 2, 3].map(() => openStream(base + '/feed', { agent: new http.Agent({ keepAlive: true }) })))
  await Promise.all(clients.map((client) => client.event(0)))
  const timersBefore = heartbeatTimerCount()
  t.equal(timersBefore >= 1, true)
  await app.close()
  await Promise.all(clients.map((client) => client.ended))
  t.equal(disconnects, 3)
  t.equal(heartbeatTimerCount(), timersBefore - 1)
  t.equal(responseListeners, 0, 'no drain listener left')
})

t.test('@fastify/compress registered globally neither compresses nor buffers a stream', async (t) => {
  const app = Fastify()
  await app.register(import('@fastify/compress'), { global: true, threshold: 0 })
  // Our own per-event compression off: the stream must reach the client as plain text.
  await app.register(datastar, { compression: false })
  let stream: import('../../src/datastar/stream.js').DatastarStream | undefined
  app.get('/feed', async (_request, reply) => {
    stream = reply.datastar()
    stream.patchElements('<div id="feed">' + 'repetitive '.repeat(200) + '</div>')
  })
  t.teardown(() => app.close())
  const client = await openStream(await listen(app) + '/feed', { headers: { 'accept-encoding': 'gzip, deflate, br' } })
  const first = await client.event(0)
  t.match(first.data, /^elements <div id="feed">/, 'the event arrived while the stream is still open')
  t.equal(client.headers['content-encoding'], undefined)
  stream?.close()
})

t.test('light-my-request payloadAsStream reads events from an open stream', async (t) => {
  const app = Fastify()
  await app.register(sse)
  let stream: import('../../src/sse/stream.js').SSEStream | undefined
  app.get('/events', async (_request, reply) => {
    stream = reply.sse()
    stream.send({ event: 'first', data: '1' })
  })
  t.teardown(() => app.close())
  const response = await app.inject({ method: 'GET', url: '/events', payloadAsStream: true })
  t.equal(response.headers['content-type'], 'text/event-stream')
  const body = response.stream()
  const parser = new SSEParser()
  const [chunk] = await once(body, 'data') as [Buffer]
  t.same(parser.push(chunk.toString()).map((event) => event.event), ['first'])
  stream?.send({ event: 'second', data: '2' })
  const [next] = await once(body, 'data') as [Buffer]
  t.same(parser.push(next.toString()).map((event) => event.event), ['second'])
  stream?.close()
})

t.test('HTTP/2: no Connection header, events flow', async (t) => {
  const app = Fastify({ http2: true })
  await app.register(datastar)
  app.get('/feed', async (_request, reply) => {
    const stream = reply.datastar()
    stream.patchSignals({ h2: true })
    setImmediate(() => stream.close())
  })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address() as { port: number }
  const session = http2.connect(`http://127.0.0.1:${address.port}`)
  t.teardown(() => session.close())
  const request = session.request({ ':path': '/feed' })
  const [headers] = await once(request, 'response') as [http2.IncomingHttpHeaders]
  t.equal(headers[':status'], 200)
  t.equal(headers['content-type'], 'text/event-stream')
  t.equal(headers.connection, undefined)
  let body = ''
  request.setEncoding('utf8')
  request.on('data', (chunk: string) => { body += chunk })
  await once(request, 'end')
  t.equal(body, 'event: datastar-patch-signals\ndata: signals {"h2":true}\n\n')
})

t.test('a head Node refuses is a normal error response, and app.close() still works', async (t) => {
  const app = Fastify()
  await app.register(sse)
  app.get('/plain', async (_request, reply) => {
    reply.sse({ headers: { 'x-bad': 'caf\u0100' } })
  })
  app.get('/callback', (_request, reply) => reply.sse(async (stream) => {
    await stream.send({ data: 'never' })
  }, { headers: { 'x-bad': 'caf\u0100' } }))
  const base = await listen(app)
  for (const path of ['/plain', '/callback']) {
    const response = await fetch(base + path)
    t.equal(response.status, 500, path)
    t.match(await response.json(), { code: 'ERR_INVALID_CHAR' }, path)
  }
  await app.close()
})

t.test('onDisconnect pairs with onConnect: a stream that never connected reports no departure', async (t) => {
  const app = Fastify()
  await app.register(sse)
  let balance = 0
  app.get('/fails-early', (_request, reply) => reply.sse(async () => { throw new Error('no') }, {
    onConnect: () => { balance++ },
    onDisconnect: () => { balance-- }
  }))
  app.get('/works', (_request, reply) => reply.sse(async (stream) => { await stream.send({ data: 'x' }) }, {
    onConnect: () => { balance++ },
    onDisconnect: () => { balance-- }
  }))
  t.teardown(() => app.close())
  t.equal((await app.inject('/fails-early')).statusCode, 500)
  t.equal(balance, 0)
  t.equal((await app.inject('/works')).statusCode, 200)
  t.equal(balance, 0)
})

t.test('HEAD on a stream route answers the head and ends', async (t) => {
  const app = Fastify()
  await app.register(datastar)
  app.get('/feed', async (_request, reply) => { reply.datastar().patchSignals({ a: 1 }) })
  t.teardown(() => app.close())
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  const base = await listen(app)
  const head = await openStream(base + '/feed', { method: 'HEAD', agent })
  await head.ended
  t.equal(head.headers['content-type'], 'text/event-stream')
  t.equal(head.text(), '')
  // The same keep-alive socket serves the next request.
  const next = await openStream(base + '/feed', { agent })
  t.equal((await next.event(0)).data, 'signals {"a":1}')
  next.destroy()
})

t.test('a handler that throws after the head was written gets its stream closed', async (t) => {
  const logs = logCapture()
  const app = Fastify({ logger: { level: 'error', stream: logs.stream } })
  await app.register(datastar)
  app.get('/feed', async (_request, reply) => {
    reply.datastar().patchSignals({ started: true })
    throw new Error('handler failed late')
  })
  t.teardown(() => app.close())
  const client = await openStream(await listen(app) + '/feed')
  await client.ended
  t.equal(client.events.length, 1, 'the client saw the stream end and may reconnect')
  t.match(logs.lines, [{ level: 50, err: { message: 'handler failed late' } }], 'Fastify logged the error')
})

t.test('a closed stream leaves no listener on the response', async (t) => {
  const app = Fastify()
  await app.register(sse)
  const counts: Array<Record<string, number>> = []
  const count = (raw: http.ServerResponse): Record<string, number> => ({ close: raw.listenerCount('close'), drain: raw.listenerCount('drain'), error: raw.listenerCount('error') })
  app.get('/events', async (_request, reply) => {
    counts.push(count(reply.raw))
    const stream = reply.sse({ keepAlive: false })
    // Enough to make the socket ask to wait, so a drain listener exists.
    for (let i = 0; i < 8; i++) stream.send({ data: 'w'.repeat(64 * 1024) })
    stream.onClose(() => { counts.push(count(reply.raw)) })
    stream.close()
  })
  t.teardown(() => app.close())
  const client = await openStream(await listen(app) + '/events')
  await client.ended
  t.same(counts[1], counts[0], 'the same listeners as before the stream')
})

t.test('the stream head has no Content-Length whatever the reply had', async (t) => {
  const app = Fastify()
  await app.register(sse)
  app.get('/events', async (_request, reply) => {
    reply.header('content-length', '12')
    reply.sse().close()
  })
  t.teardown(() => app.close())
  const client = await openStream(await listen(app) + '/events')
  await client.ended
  t.equal(client.headers['content-length'], undefined)
  t.equal(client.headers['transfer-encoding'], 'chunked')
})
