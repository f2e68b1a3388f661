import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import datastar, { type DatastarStream, type Encoding } from '../../plugins/index.js'
import { DEFAULT_ENCODINGS } from '../../src/sse/compression.js'
import { listen, logCapture, openStream, waitFor, within, ZSTD_SKIP } from '../helpers.js'

function ticker (tick: number): string {
  // A realistic patch: a few KB of HTML that changes a little each tick.
  const rows = Array.from({ length: 40 }, (_, i) => `<tr><td>row ${i}</td><td class="value">${(i * tick) % 97}</td></tr>`).join('\n')
  return `<table id="feed" data-tick="${tick}">\n${rows}\n</table>`
}

for (const encoding of DEFAULT_ENCODINGS) {
  t.test(`${encoding}: every event and heartbeat decodes on arrival, before the next is sent`, { skip: encoding === 'zstd' ? ZSTD_SKIP : false }, async (t) => {
    const app = Fastify()
    await app.register(datastar, { keepAlive: 25 })
    let stream: DatastarStream | undefined
    app.get('/feed', async (_request, reply) => { stream = reply.datastar() })
    t.teardown(() => app.close())
    const client = await openStream(await listen(app) + '/feed', { headers: { 'accept-encoding': encoding }, decode: true })
    t.equal(client.headers['content-encoding'], encoding)
    t.match(client.headers.vary, /Accept-Encoding/)
    t.equal((stream as DatastarStream).encoding, encoding, 'the negotiated algorithm is readable on the stream')
    for (let tick = 0; tick < 5; tick++) {
      await stream?.patchElements(ticker(tick))
      const event = await within(client.event(tick), 5000, `event ${tick}`)
      t.equal(event.dataLines[0], `elements <table id="feed" data-tick="${tick}">`)
      t.equal(client.events.length, tick + 1)
    }
    await within(client.comment(1), 5000, 'a heartbeat')
    stream?.close()
    await within(client.ended, 5000, 'the final frame')
    t.equal(client.decodeError(), undefined, 'the whole body is valid')
    t.equal(client.cleanEnd(), true, 'close() wrote the final frame: the body decodes to its end')
    t.equal(client.events.length, 5, 'nothing lost or added')
  })
}

async function headersFor (acceptEncoding: string | undefined, pluginOptions: Parameters<typeof datastar>[1] = {}, setup?: (app: FastifyInstance) => void) {
  const app = Fastify()
  await app.register(datastar, pluginOptions)
  if (setup !== undefined) setup(app)
  else app.get('/feed', (_request, reply) => reply.datastar(async (sse) => { await sse.patchSignals({ a: 1 }) }))
  const response = await app.inject({ url: '/feed', headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } })
  await app.close()
  return response.headers
}

t.test('negotiation honours q-values, *, identity and the preference', async (t) => {
  t.equal((await headersFor('gzip, br'))['content-encoding'], 'br', 'server priority by default')
  t.equal((await headersFor('gzip, br;q=0.5', { compression: { preference: 'client' } }))['content-encoding'], 'gzip', 'client priority by option')
  t.equal((await headersFor('br;q=0, gzip'))['content-encoding'], 'gzip', 'q=0 refuses')
  t.equal((await headersFor('identity'))['content-encoding'], undefined, 'identity only')
  t.equal((await headersFor('*;q=0, identity'))['content-encoding'], undefined)
  t.equal((await headersFor(undefined))['content-encoding'], undefined, 'no header: no compression')
  t.equal((await headersFor('*'))['content-encoding'], ZSTD_SKIP === false ? 'zstd' : 'br', '* accepts the server\'s first choice')
  t.equal((await headersFor('gzip, br', { compression: { encodings: ['gzip'] } }))['content-encoding'], 'gzip', 'the allowed list')
  t.match((await headersFor('identity')).vary, /Accept-Encoding/, 'Vary is set whenever compression could apply')
})

t.test('compression turns off per plugin, per route and per stream', async (t) => {
  const off = await headersFor('gzip', { compression: false })
  t.equal(off['content-encoding'], undefined)
  t.equal(off.vary, undefined)
  const route = await headersFor('gzip', {}, (app) => {
    app.get('/feed', { config: { sse: { compression: false } } }, (_request, reply) => reply.datastar(async (sse) => { await sse.patchSignals({ a: 1 }) }))
  })
  t.equal(route['content-encoding'], undefined)
  const stream = await headersFor('gzip', {}, (app) => {
    app.get('/feed', (_request, reply) => reply.datastar(async (sse) => { await sse.patchSignals({ a: 1 }) }, { compression: false }))
  })
  t.equal(stream['content-encoding'], undefined)
  const onAgain = await headersFor('gzip', { compression: false }, (app) => {
    app.get('/feed', { config: { sse: { compression: { encodings: ['gzip'] } } } }, (_request, reply) => reply.datastar(async (sse) => { await sse.patchSignals({ a: 1 }) }))
  })
  t.equal(onAgain['content-encoding'], 'gzip', 'a route may turn it back on')
})

t.test('bad compression options fail at register or route time', async (t) => {
  await t.rejects(async () => { await Fastify().register(datastar, { compression: { encodings: ['lzma' as Encoding] } }) }, { code: 'FST_ERR_SSE_INVALID_OPTION' })
  await t.rejects(async () => { await Fastify().register(datastar, { compression: { br: { level: 12 } } }) }, { code: 'FST_ERR_SSE_INVALID_OPTION' })
  await t.rejects(async () => { await Fastify().register(datastar, { compression: { coalesce: -1 } }) }, { code: 'FST_ERR_SSE_INVALID_OPTION' })
  const app = Fastify()
  await app.register(datastar)
  t.throws(() => app.get('/x', { config: { sse: { compression: { preference: 'mine' as 'client' } } } }, async () => 'x'), { code: 'FST_ERR_SSE_INVALID_OPTION', message: /compression\.preference.*config\.sse of GET \/x/ })
  await app.close()
})

t.test('@fastify/compress registered globally does not compress again', async (t) => {
  const app = Fastify()
  await app.register(import('@fastify/compress'), { global: true, threshold: 0 })
  await app.register(datastar)
  let stream: DatastarStream | undefined
  app.get('/feed', async (_request, reply) => { stream = reply.datastar() })
  t.teardown(() => app.close())
  const client = await openStream(await listen(app) + '/feed', { headers: { 'accept-encoding': 'gzip' }, decode: true })
  t.equal(client.headers['content-encoding'], 'gzip')
  await stream?.patchSignals({ once: true })
  const event = await within(client.event(0), 5000, 'the event')
  t.equal(event.data, 'signals {"once":true}', 'one decode gives the event: compressed once')
  stream?.close()
  await client.ended
})

async function countFrames (t: Test, coalesce: number | false, write: (stream: DatastarStream) => Promise<void>) {
  const app = Fastify()
  await app.register(datastar, { compression: { coalesce }, keepAlive: false })
  let frames = 0
  app.get('/feed', (_request, reply) => {
    const raw = reply.raw
    const write = raw.write.bind(raw) as (chunk: unknown) => boolean
    raw.write = ((chunk: unknown) => { frames++; return write(chunk) }) as typeof raw.write
    return reply.datastar(async (sse) => { await writeEvents(sse) })
  })
  const writeEvents = write
  t.teardown(() => app.close())
  const client = await openStream(await listen(app) + '/feed', { headers: { 'accept-encoding': 'gzip' }, decode: true })
  await client.ended
  return { frames, events: client.events.length }
}

t.test('coalescing gathers a burst into one flush, within its window', async (t) => {
  const burst = async (sse: DatastarStream): Promise<void> => {
    await Promise.all(Array.from({ length: 10 }, (_, i) => sse.patchSignals({ i })))
  }
  t.same(await countFrames(t, false, burst), { frames: 10, events: 10 }, 'a frame per event by default')
  t.same(await countFrames(t, 0, burst), { frames: 1, events: 10 }, 'one frame for a burst written in one turn')
  const twoTurns = async (sse: DatastarStream): Promise<void> => {
    const first = sse.patchSignals({ turn: 1 })
    await new Promise((resolve) => setImmediate(resolve))
    await Promise.all([first, sse.patchSignals({ turn: 2 })])
  }
  t.same(await countFrames(t, 0, twoTurns), { frames: 2, events: 2 }, 'a 0 ms window ends with the turn')
  t.same(await countFrames(t, 50, twoTurns), { frames: 1, events: 2 }, 'a wider window spans turns')
})

t.test('errors of a stream (here a throwing hook) reach request.log', async (t) => {
  const logs = logCapture()
  const app = Fastify({ logger: { level: 'error', stream: logs.stream } })
  await app.register(datastar)
  app.get('/feed', (_request, reply) => reply.datastar(async (sse) => { await sse.patchSignals({ ok: true }) }, {
    onConnect: () => { throw new Error('hook failed') }
  }))
  t.teardown(() => app.close())
  const response = await app.inject('/feed')
  t.equal(response.statusCode, 200, 'a failing hook does not break the stream')
  await waitFor(() => logs.lines.length > 0, 'the error log')
  t.match(logs.lines[0], { level: 50, msg: 'event stream error', err: { message: 'hook failed' }, reqId: /./ })
})

t.test('headers: a stream announces only its own coding, and names are case-insensitive', async (t) => {
  const off = await headersFor('gzip', { compression: false }, (app) => {
    app.addHook('onRequest', async (_request, reply) => { reply.header('content-encoding', 'gzip') })
    app.get('/feed', (_request, reply) => reply.datastar(async (sse) => { await sse.patchSignals({ a: 1 }) }))
  })
  t.equal(off['content-encoding'], undefined, 'a hook\'s stale Content-Encoding is dropped')
  const mixed = await headersFor('gzip', {}, (app) => {
    app.get('/feed', (_request, reply) => reply.datastar(async (sse) => { await sse.patchSignals({ a: 1 }) }, {
      headers: { Vary: 'Origin', 'Content-Encoding': 'identity', 'Content-Length': '10' }
    }))
  })
  t.equal(mixed.vary, 'Origin, Accept-Encoding', 'one Vary header')
  t.equal(mixed['content-encoding'], 'gzip')
  t.equal(mixed['content-length'], undefined)
})

t.test('tuning merges per algorithm and reaches the compressor', async (t) => {
  const sizes: number[] = []
  for (const level of [0, 9]) {
    const app = Fastify()
    await app.register(datastar, { compression: { gzip: { level, memLevel: 9 } } })
    app.get('/feed', { config: { sse: { compression: { gzip: { window: 15 } } } } }, (_request, reply) => reply.datastar(async (sse) => {
      for (let tick = 0; tick < 5; tick++) await sse.patchElements(ticker(tick))
    }))
    const response = await app.inject({ url: '/feed', headers: { 'accept-encoding': 'gzip' } })
    sizes.push(response.rawPayload.length)
    await app.close()
  }
  t.ok((sizes[0] as number) > (sizes[1] as number) * 5, 'level 0 stores, level 9 compresses: the plugin\'s level survived the route\'s window')
})

t.test('a client that stops reading a compressed stream is held to its bound too', async (t) => {
  const app = Fastify()
  await app.register(datastar, { compression: { encodings: ['gzip'] }, maxBufferedBytes: 256 * 1024, hardMaxBufferedBytes: 256 * 1024 })
  let stream: DatastarStream | undefined
  app.get('/feed', async (_request, reply) => { stream = reply.datastar({ keepAlive: false }) })
  t.teardown(() => app.close())
  const client = await openStream(await listen(app) + '/feed', { headers: { 'accept-encoding': 'gzip' } })
  client.response.pause()
  // 3000 writes in one turn: the compressor takes a bounded backlog, the rest queues, bounded.
  const payload = 'q'.repeat(4 * 1024)
  let peak = 0
  for (let i = 0; i < 3000 && stream?.isClosed === false; i++) {
    stream.patchSignals({ i, payload, noise: Math.random() })
    peak = Math.max(peak, stream.bufferedAmount)
  }
  t.ok(peak <= 256 * 1024 + 64 * 1024 + 64 * 1024, `never more than the bound plus the compressor's backlog (peak ${peak})`)
  t.equal(stream?.closeReason, 'overflow', 'then the slow client is let go')
})
