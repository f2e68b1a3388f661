import t, { type Test } from 'tap'
import http from 'node:http'
import { once } from 'node:events'
import { SSEStream, sseHeaders, type SSEStreamOptions } from '../../src/sse/stream.js'
import { openStream } from '../helpers.js'

// The core needs no framework: a plain node:http server.
async function serve (t: Test, handler: (stream: SSEStream, res: http.ServerResponse) => void, options: SSEStreamOptions = {}) {
  const server = http.createServer((req, res) => {
    handler(new SSEStream(res, () => ({ statusCode: 200, headers: sseHeaders(req.httpVersionMajor) }), { keepAlive: false, ...options }), res)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/`
}

t.test('hooks run exactly once; closed, signal and onClose agree', async (t) => {
  let disconnects = 0
  let stream: SSEStream | undefined
  const url = await serve(t, (created) => {
    stream = created
    created.onClose(() => { disconnects++ })
    created.open()
    created.open()
  })
  const client = await openStream(url)
  const s = stream as SSEStream
  t.equal(s.isOpen, true)
  const closed = s.closed
  s.close()
  s.close()
  await closed
  t.equal(s.isClosed, true)
  t.equal(s.closeReason, 'server')
  t.equal(s.signal.aborted, true, 'a signal first read after the end is already aborted')
  t.equal(await s.send({ data: 'late' }), false, 'writes after the end are dropped, never thrown')
  let lateHandler = false
  s.onClose(() => { lateHandler = true })
  await Promise.resolve()
  t.equal(lateHandler, true, 'a handler added after the end still runs, once')
  t.equal(disconnects, 1)
  await client.ended
})

t.test('onConnect runs once, when the head goes out on the first write', async (t) => {
  let connects = 0
  let stream: SSEStream | undefined
  const server = http.createServer((_req, res) => {
    stream = new SSEStream(res, () => ({ statusCode: 200, headers: sseHeaders(1) }), { keepAlive: false, onConnect: () => { connects++ } })
    t.equal(connects, 0, 'nothing written yet')
    stream.send({ data: 'first' })
    stream.send({ data: 'second' })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const client = await openStream(`http://127.0.0.1:${(server.address() as { port: number }).port}/`)
  await client.event(1)
  t.equal(connects, 1)
  stream?.close()
  await client.ended
})

t.test('discard() gives the response back before the head, and only then', async (t) => {
  const url = await serve(t, (stream, res) => {
    t.equal(stream.discard(), true)
    t.equal(stream.isClosed, true)
    res.writeHead(503, { 'content-type': 'text/plain' })
    res.end('busy')
  })
  const response = await fetch(url)
  t.equal(response.status, 503)
  t.equal(await response.text(), 'busy')

  const open = await serve(t, (stream) => {
    stream.open()
    t.equal(stream.discard(), false)
    stream.close()
  })
  t.equal((await fetch(open)).status, 200)
})

t.test('a client that leaves is seen from the response, with reason "client"', async (t) => {
  let stream: SSEStream | undefined
  const url = await serve(t, (created) => {
    stream = created
    created.open()
  })
  const client = await openStream(url)
  const closed = (stream as SSEStream).closed
  client.destroy()
  await closed
  t.equal(stream?.closeReason, 'client')
})

t.test('a close() while writes wait for drain sends them with the end', async (t) => {
  const payload = 'z'.repeat(256 * 1024)
  let results: boolean[] = []
  const url = await serve(t, (stream) => {
    // Bounded burst far above a socket buffer, so later writes queue.
    const writes = Array.from({ length: 32 }, (_, i) => stream.send({ id: String(i), data: payload }))
    t.ok(stream.bufferedAmount > 0, 'writes are waiting for drain')
    stream.close()
    Promise.all(writes).then((settled) => { results = settled })
  }, { maxBufferedBytes: 16 * 1024 * 1024 })
  const client = await openStream(url)
  await client.ended
  t.equal(client.events.length, 32, 'every queued event was delivered')
  t.equal(client.events[31]?.id, '31')
  t.same(new Set(results), new Set([true]))
})

t.test('past its hard bound a slow client is closed at once, or loses its oldest events with drop-oldest', async (t) => {
  const event = (i: number): string => `id: ${i}\ndata: ${'p'.repeat(16 * 1024)}\n\n`
  const errors: Error[] = []
  let closing: SSEStream | undefined
  const closeUrl = await serve(t, (stream) => {
    closing = stream
    stream.open()
  }, { maxBufferedBytes: 64 * 1024, hardMaxBufferedBytes: 64 * 1024, onError: (error) => { errors.push(error) } })
  const stalled = await openStream(closeUrl)
  stalled.response.pause()
  // Bounded: far more than the bound, stop once the stream gave up.
  for (let i = 0; i < 2000 && closing?.isClosed === false; i++) {
    closing.write(event(i))
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.equal(closing?.closeReason, 'overflow')
  t.match(errors, [{ code: 'FST_ERR_SSE_OVERFLOW' }])
  t.ok((closing?.bufferedAmount ?? 0) <= 64 * 1024, 'it never held more than its bound')

  let latest: SSEStream | undefined
  const dropUrl = await serve(t, (stream) => {
    latest = stream
    stream.open()
  }, { maxBufferedBytes: 64 * 1024, hardMaxBufferedBytes: 64 * 1024, overflow: 'drop-oldest' })
  const slow = await openStream(dropUrl)
  slow.response.pause()
  let i = 0
  // Bounded: write until the socket asks to wait, then well past the bound.
  for (; i < 2000 && (latest?.bufferedAmount ?? 0) <= 32 * 1024; i++) {
    latest?.write(event(i))
    await new Promise((resolve) => setImmediate(resolve))
  }
  for (let more = 0; more < 40; more++, i++) latest?.write(event(i))
  t.equal(latest?.isClosed, false, 'the stream stays open')
  slow.response.resume()
  latest?.close()
  await slow.ended
  const ids = slow.events.map((e) => Number(e.id))
  t.equal(ids[ids.length - 1], i - 1, 'the newest event arrived')
  t.ok(ids.length < i, 'older queued events were dropped')
  t.same(ids, [...ids].sort((a, b) => a - b), 'what arrived is in order, whole events only')
})
