/**
 * The slow-consumer policy over real sockets: bursts that clients read at
 * full speed are not stalls; a client that does not read is let go within the
 * stall time (or at once past the hard bound), and nobody else loses an event.
 */
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import net from 'node:net'
import type { Readable } from 'node:stream'
import datastar, { type CompressionOptions, type DatastarReplyOptions, type DatastarStream } from '../../plugins/index.js'
import { decoderFor, listen, logCapture, openStream, waitFor, within } from '../helpers.js'

const KiB = 1024

/** A reader that keeps only the counters of the ids it receives (bursts of MiBs, twenty readers: no text kept). */
interface IdReader {
  ids: number[]
  ended: Promise<void>
  /** Stops reading (the kernel buffers fill, then the server's). */
  stall: () => void
  resume: () => void
  destroy: () => void
}

function readIds (url: string, headers: Record<string, string> = {}): Promise<IdReader> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false })
    req.on('error', reject)
    req.on('response', (response) => {
      const ids: number[] = []
      const decoder = decoderFor(response.headers['content-encoding'])
      const body: Readable = decoder === undefined ? response : response.pipe(decoder)
      let partial = ''
      body.setEncoding('latin1')
      body.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n')
        partial = lines.pop() as string
        for (const line of lines) if (line.startsWith('id: ')) ids.push(Number(line.slice(line.lastIndexOf('-') + 1)))
      })
      response.on('error', () => {})
      const ended = new Promise<void>((resolve) => { response.on('close', resolve) })
      resolve({ ids, ended, stall: () => { response.pause() }, resume: () => { response.resume() }, destroy: () => { req.destroy() } })
    })
  })
}

async function burstApp (t: Test, streamOptions: DatastarReplyOptions, compression: false | CompressionOptions = false) {
  const logs = logCapture()
  const app = Fastify({ logger: { level: 'warn', stream: logs.stream } })
  await app.register(datastar, { compression })
  const streams = new Map<string, DatastarStream>()
  app.get('/feed', async (request, reply) => {
    const key = (request.query as { key?: string }).key
    const stream = reply.datastar({ keepAlive: false, ...streamOptions })
    streams.set(key ?? `reader ${streams.size}`, stream)
    app.registry('feed').add(stream, { key })
  })
  t.teardown(() => app.close())
  const base = await listen(app)
  return { app, logs, base, streams, feed: app.registry('feed') }
}

/**
 * Twenty readers and one stalled client; `bursts` bursts of `perBurst` events
 * of `size` bytes, each burst published in one turn.
 */
async function burstScenario (t: Test, options: { perBurst: number, size: number, bursts: number, stream?: DatastarReplyOptions, gzip?: boolean }) {
  const { app, logs, base, feed, streams } = await burstApp(t, { stallTimeout: 1000, ...options.stream }, options.gzip === true ? { encodings: ['gzip'] } : false)
  const headers: Record<string, string> = options.gzip === true ? { 'accept-encoding': 'gzip' } : {}
  const readers = await Promise.all(Array.from({ length: 20 }, () => readIds(base + '/feed', headers)))
  const stalled = await readIds(base + '/feed?key=stalled', headers)
  t.teardown(() => { for (const reader of [...readers, stalled]) reader.destroy() })
  await waitFor(() => feed.size === 21, 'all subscribed')
  stalled.stall()
  const payload = 'x'.repeat(options.size - 40)
  const total = options.perBurst * options.bursts
  for (let burst = 0; burst < options.bursts; burst++) {
    const published: Array<Promise<unknown>> = []
    for (let i = 0; i < options.perBurst; i++) published.push(feed.patchSignals({ burst, i, payload }))
    await Promise.all(published)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  for (const [index, reader] of readers.entries()) {
    await within(waitFor(() => reader.ids.length >= total, `reader ${index}: ${total} events`, 20_000), 21_000, `reader ${index}`)
    t.same(reader.ids, Array.from({ length: total }, (_, i) => i + 1), `reader ${index} got every event, in order`)
  }
  // The kernel takes tens of MiB for a client that stops reading (tcp_rmem): top it up while
  // this process holds less than the soft bound for it; once the kernel is full, the bytes held
  // here stay above the bound and the stall clock lets the client go. Bounded: 2000 rounds.
  const stream = streams.get('stalled') as DatastarStream
  // Random text: gzip cannot shrink it, so it fills the kernel's buffers as plain text does.
  const topUp = randomBytes(192 * KiB).toString('base64')
  for (let round = 0; round < 2000 && !stream.isClosed; round++) {
    if (stream.bufferedAmount <= 1024 * KiB) await feed.to('stalled').patchSignals({ topUp })
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await within(stream.closed, 1_000, 'the stalled client is let go')
  t.equal(stream.closeReason, 'stall')
  t.equal(feed.size, 20, 'only the stalled client left the registry')
  t.ok(stalled.ids.length < total, 'the stalled client did not read everything')
  t.match(logs.lines.map((line) => (line.err as { code?: string } | undefined)?.code), ['FST_ERR_SSE_STALLED'], 'one slow client logged, for the stall')
  return { app }
}

t.test('20 readers and a stalled client, 64 KiB events twenty at a time: every reader keeps every event', async (t) => {
  await burstScenario(t, { perBurst: 20, size: 64 * KiB, bursts: 10 })
})

t.test('the same bursts over gzip streams', async (t) => {
  await burstScenario(t, { perBurst: 20, size: 64 * KiB, bursts: 10, gzip: true })
})

t.test('bursts of 500 events of 4 KiB', async (t) => {
  await burstScenario(t, { perBurst: 500, size: 4 * KiB, bursts: 4 })
})

t.test('drop-oldest: a reader at full speed loses nothing in bursts', async (t) => {
  const { base, feed } = await burstApp(t, { overflow: 'drop-oldest' })
  const reader = await readIds(base + '/feed')
  t.teardown(() => { reader.destroy() })
  await waitFor(() => feed.size === 1, 'subscribed')
  const payload = 'y'.repeat(64 * KiB)
  for (let burst = 0; burst < 10; burst++) {
    await Promise.all(Array.from({ length: 20 }, (_, i) => feed.patchSignals({ burst, i, payload })))
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await within(waitFor(() => reader.ids.length >= 200, '200 events', 20_000), 21_000, 'reader')
  t.same(reader.ids, Array.from({ length: 200 }, (_, i) => i + 1), 'every event, in order')
})

t.test('a lone reply.sse() written fire-and-forget: 500 × 4 KiB reach the client', async (t) => {
  const app = Fastify()
  await app.register(datastar, { compression: false })
  const payload = 'z'.repeat(4 * KiB)
  app.get('/burst', (_request, reply) => {
    reply.sse((stream) => {
      // Fire-and-forget: the promises are dropped, as a new user does (they never reject).
      for (let i = 1; i <= 500; i++) stream.send({ id: String(i), data: payload }).catch(() => {})
      stream.close()
    }, { keepAlive: false })
  })
  t.teardown(() => app.close())
  const base = await listen(app)
  const client = await openStream(base + '/burst')
  await within(client.ended, 10_000, 'the stream ends')
  t.equal(client.events.length, 500, 'every event arrived')
  t.equal(client.events.at(-1)?.id, '500')
})

t.test('past the hard bound a client is let go at once, before its stall time', async (t) => {
  const { logs, base, feed, streams } = await burstApp(t, { maxBufferedBytes: 64 * KiB, hardMaxBufferedBytes: 256 * KiB, stallTimeout: 60_000 })
  const stalled = await readIds(base + '/feed?key=stalled')
  t.teardown(() => { stalled.destroy() })
  await waitFor(() => feed.size === 1, 'subscribed')
  stalled.stall()
  const payload = 'w'.repeat(16 * KiB)
  // Bounded: at most 4000 events of 16 KiB (64 MiB), until the client is let go.
  for (let i = 0; i < 4000 && feed.size === 1; i++) {
    await feed.patchSignals({ i, payload })
    if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  const stream = streams.get('stalled') as DatastarStream
  await within(stream.closed, 5_000, 'closed long before the 60 s stall time')
  t.equal(stream.closeReason, 'overflow')
  t.match(logs.lines.map((line) => (line.err as { code?: string } | undefined)?.code), ['FST_ERR_SSE_OVERFLOW'])
})

t.test('memory stays bounded with 50 clients replaying from an old id and 50 stalled ones, none of them reading', async (t) => {
  const app = Fastify()
  await app.register(datastar, { compression: false })
  let resyncs = 0
  const feed = app.registry('feed', { replay: 256, onResync: (stream) => { resyncs++; stream.patchSignals({ resynced: true }).catch(() => {}) } })
  app.get('/feed', async (_request, reply) => {
    feed.add(reply.datastar({ keepAlive: false, stallTimeout: 60_000 }))
  })
  t.teardown(() => app.close())
  const base = new URL(await listen(app))
  const payload = randomBytes(48 * KiB).toString('base64')
  // The ring: 256 events of 64 KiB (16 MiB), what a client with the first id missed.
  const first = await feed.patchSignals({ i: 0, payload })
  for (let i = 1; i < 256; i++) await feed.patchSignals({ i, payload })
  const before = process.memoryUsage().rss
  const sockets: net.Socket[] = []
  t.teardown(() => { for (const socket of sockets) socket.destroy() })
  for (let i = 0; i < 100; i++) {
    const socket = net.connect(Number(base.port), '127.0.0.1')
    socket.pause()
    const resume = i < 50 ? `Last-Event-ID: ${first}\r\n` : ''
    socket.write(`GET /feed HTTP/1.1\r\nHost: ${base.host}\r\n${resume}\r\n`)
    sockets.push(socket)
  }
  await waitFor(() => feed.size === 100, 'all subscribed', 20_000)
  for (let i = 0; i < 100; i++) {
    await feed.patchSignals({ i, payload })
    if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  const grown = process.memoryUsage().rss - before
  t.ok(grown < 256 * 1024 * KiB, `RSS grew by ${Math.round(grown / 1024 / KiB)} MiB (a whole replay each would be 800 MiB)`)
  t.equal(resyncs, 50, 'each replaying client was resynced, not handed 16 MiB')
  t.equal(feed.size, 100, 'nobody was closed within the stall time and the hard bound')
})

t.test('backpressure on demand: registry.drained() waits while a stream queues, and settles once it drains', async (t) => {
  const { base, feed } = await burstApp(t, { stallTimeout: 60_000 })
  await feed.drained()
  const slow = await readIds(base + '/feed?key=slow')
  t.teardown(() => { slow.destroy() })
  await waitFor(() => feed.size === 1, 'subscribed')
  slow.stall()
  const payload = randomBytes(48 * KiB).toString('base64')
  let published = 0
  // Publish until the stream queues (the kernel takes tens of MiB first); bounded: 2000 events.
  while (published < 2000 && (await Promise.race([feed.drained().then(() => true), new Promise((resolve) => setTimeout(resolve, 100, false))]))) {
    await feed.patchSignals({ i: published++, payload })
  }
  t.ok(published < 2000, `drained() stopped resolving once the stream queued (after ${published} events)`)
  let settled = false
  const waiting = feed.drained().then(() => { settled = true })
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(settled, false, 'still waiting while the client does not read')
  slow.resume()
  await within(waiting, 10_000, 'settles once the client reads')
  await within(waitFor(() => slow.ids.length === published, 'every event', 10_000), 11_000, 'every event arrives')
  t.same(slow.ids, Array.from({ length: published }, (_, i) => i + 1), 'in order, none dropped')
})
