import t from 'tap'
import http from 'node:http'
import zlib from 'node:zlib'
import { once } from 'node:events'
import { Transform } from 'node:stream'
import {
  DEFAULT_ENCODINGS,
  FrameCompressor,
  isEncodingAvailable,
  negotiateEncoding,
  type Encoding
} from '../../src/sse/compression.js'
import { SSEStream, sseHeaders } from '../../src/sse/stream.js'
import { decoderFor, openStream, waitFor, within, ZSTD_SKIP } from '../helpers.js'

t.test('negotiateEncoding follows RFC 9110 q-values', async (t) => {
  const zstd = isEncodingAvailable('zstd')
  t.equal(negotiateEncoding(undefined), 'identity')
  t.equal(negotiateEncoding(''), 'identity')
  t.equal(negotiateEncoding('gzip, deflate, br, zstd'), zstd ? 'zstd' : 'br', 'server priority')
  t.equal(negotiateEncoding('GZIP'), 'gzip', 'case-insensitive')
  t.equal(negotiateEncoding('br;q=0, gzip;q=0.1'), 'gzip')
  t.equal(negotiateEncoding('br;q=0.2, gzip;q=0.9', { preference: 'client' }), 'gzip')
  t.equal(negotiateEncoding('br;q=0.9, gzip;q=0.9', { preference: 'client' }), 'br', 'ties go to the server order')
  t.equal(negotiateEncoding('*;q=0.5, br;q=0', { encodings: ['br', 'gzip'] }), 'gzip', '* covers what is not listed')
  t.equal(negotiateEncoding('*;q=0'), 'identity')
  t.equal(negotiateEncoding('identity'), 'identity')
  t.equal(negotiateEncoding('gzip;q=abc, deflate'), 'deflate', 'an unreadable q is a refusal')
  t.equal(negotiateEncoding('gzip;q=0, gzip;q=1'), 'gzip', 'a coding listed twice keeps its best weight')
  t.equal(negotiateEncoding('zstd'), zstd ? 'zstd' : 'identity', 'zstd only where the runtime has it')
  t.equal(negotiateEncoding('x-gzip'), 'gzip', 'x-gzip is gzip')
  t.equal(negotiateEncoding('identity;q=1, gzip;q=0.1', { preference: 'client' }), 'identity', 'a client that prefers identity gets it')
})

for (const encoding of DEFAULT_ENCODINGS) {
  t.test(`FrameCompressor(${encoding}): frames decode one by one and keep the dictionary`, { skip: encoding === 'zstd' ? ZSTD_SKIP : false }, async (t) => {
    const frames: Buffer[] = []
    const compressor = new FrameCompressor({ encoding }, { frame: async (frame) => { frames.push(frame); return true }, fail: (error) => { throw error } })
    const decoder = decoderFor(encoding) as zlib.Gunzip
    let decoded = ''
    decoder.on('data', (chunk: Buffer) => { decoded += chunk.toString() })
    const event = (i: number): string => `event: datastar-patch-elements\ndata: elements <div id="row">${'same text '.repeat(50)}${i}</div>\n\n`
    for (let i = 0; i < 3; i++) {
      t.equal(await compressor.write(event(i)), true)
      t.equal(frames.length, i + 1, 'one frame per write')
      decoder.write(frames[i])
      const expected = event(0) + (i > 0 ? event(1) : '') + (i > 1 ? event(2) : '')
      // Decoding runs on the thread pool: wait (bounded) for its output.
      await waitFor(() => decoded.length >= expected.length, `event ${i} decoded`)
      t.equal(decoded, expected, `event ${i} decodes from its own frame`)
    }
    t.ok((frames[2] as Buffer).length < (frames[0] as Buffer).length / 3, 'later frames reuse the dictionary')
    const last = await compressor.finish()
    decoder.end(last)
    await once(decoder, 'end')
  })
}

t.test('a compressor that fails ends its stream only, with a coded error', async (t) => {
  // A zlib stand-in whose gzip fails on first use, as a broken native stream would.
  class FailingGzip extends Transform {
    constructor () {
      super({ transform (_chunk, _encoding, callback) { callback(new Error('zlib is broken')) } })
    }

    flush (_kind: number, callback: () => void): void {
      this.write(Buffer.alloc(0), callback)
    }
  }
  const failingZlib = { ...zlib, createGzip: () => new FailingGzip() }
  const compression = await t.mockImport<typeof import('../../src/sse/compression.js')>('../../src/sse/compression.js', {
    'node:zlib': { ...failingZlib, default: failingZlib }
  })
  const { SSEStream: MockedStream } = await t.mockImport<typeof import('../../src/sse/stream.js')>('../../src/sse/stream.js', {
    '../../src/sse/compression.js': compression
  })
  const errors: Error[] = []
  const streams: SSEStream[] = []
  const server = http.createServer((req, res) => {
    const encoding = req.headers['accept-encoding'] as Encoding
    const headers = { ...sseHeaders(1), 'content-encoding': encoding }
    streams.push(new MockedStream(res, () => ({ statusCode: 200, headers }), { keepAlive: false, compression: { encoding }, onError: (error) => { errors.push(error) } }))
    streams[streams.length - 1]?.open()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`
  const broken = await openStream(url, { headers: { 'accept-encoding': 'gzip' }, decode: true })
  const healthy = await openStream(url, { headers: { 'accept-encoding': 'deflate' }, decode: true })
  t.equal(await streams[0]?.send({ data: 'doomed' }), false, 'the write fails, without throwing')
  await within(broken.ended, 5000, 'the broken stream to end')
  t.equal(streams[0]?.isClosed, true)
  t.match(errors, [{ code: 'FST_ERR_SSE_COMPRESSION', statusCode: 500, message: 'Compressing the event stream with gzip failed: zlib is broken' }])
  t.equal(await streams[1]?.send({ data: 'fine' }), true)
  t.equal((await within(healthy.event(0), 5000, 'the healthy event')).data, 'fine', 'the other stream goes on')
  streams[1]?.close()
  await healthy.ended
})

t.test('a coalescing window is the configured delay', async (t) => {
  const delays: Array<number | undefined> = []
  const realSetTimeout = globalThis.setTimeout
  globalThis.setTimeout = ((callback: () => void, delay?: number) => {
    delays.push(delay)
    return realSetTimeout(callback, delay)
  }) as typeof setTimeout
  t.teardown(() => { globalThis.setTimeout = realSetTimeout })
  const frames: Buffer[] = []
  const compressor = new FrameCompressor({ encoding: 'gzip', coalesce: 40 }, { frame: async (frame) => { frames.push(frame); return true }, fail: (error) => { throw error } })
  const written = [compressor.write('data: a\n\n'), compressor.write('data: b\n\n')]
  t.same(delays, [40], 'one timer, for the configured window, however many writes')
  globalThis.setTimeout = realSetTimeout
  await Promise.all(written)
  t.equal(frames.length, 1)
  compressor.destroy()
})

t.test('every compressor is released: streams that end, and clients that leave mid-flush', async (t) => {
  // zlib, observed: every gzip stream created is recorded.
  const created: zlib.Gzip[] = []
  const observedZlib = { ...zlib, createGzip: (options?: zlib.ZlibOptions) => { const gzip = zlib.createGzip(options); created.push(gzip); return gzip } }
  const compression = await t.mockImport<typeof import('../../src/sse/compression.js')>('../../src/sse/compression.js', {
    'node:zlib': { ...observedZlib, default: observedZlib }
  })
  const { SSEStream: ObservedStream } = await t.mockImport<typeof import('../../src/sse/stream.js')>('../../src/sse/stream.js', {
    '../../src/sse/compression.js': compression
  })
  const server = http.createServer((req, res) => {
    const stream = new ObservedStream(res, () => ({ statusCode: 200, headers: { ...sseHeaders(1), 'content-encoding': 'gzip' } }), { keepAlive: false, compression: { encoding: 'gzip' } })
    stream.open()
    for (let i = 0; i < 20; i++) stream.send({ data: 'x'.repeat(2000) + i })
    if (req.url === '/ends') stream.close()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const leaving = await Promise.all(Array.from({ length: 10 }, () => openStream(url + '/leaves')))
  const ending = await Promise.all(Array.from({ length: 10 }, () => openStream(url + '/ends')))
  for (const client of leaving) client.destroy()
  await Promise.all(ending.map((client) => client.ended))
  t.equal(created.length, 20, 'one compressor per stream')
  await waitFor(() => created.every((gzip) => gzip.destroyed), 'every compressor destroyed', 5000)
  t.ok(created.every((gzip) => gzip.destroyed))
})
