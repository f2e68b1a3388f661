import t, { type Test } from 'tap'
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import zlib from 'node:zlib'
import { once } from 'node:events'
import { directSocket, frameChunk } from '../../src/sse/chunk.js'
import { SharedEvent, SSEStream, sseHeaders, type SSEHead, type SSEResponse, type SSEStreamOptions } from '../../src/sse/stream.js'
import { SSEParser } from '../../src/sse/parser.js'
import { Registry } from '../../src/registry/registry.js'
import type { Subscriber } from '../../src/registry/subscriber.js'
import { within } from '../helpers.js'

// The direct write path of SSEStream: events framed as HTTP/1.1 chunks and
// written to res.socket, checked on the wire with a raw socket client.

/** What went to the response and to its socket, once the spy is installed. */
interface Spied {
  /** Chunks given to res.write(). */
  res: Array<string | Buffer>
  /** The socket's buffered bytes at each res.write(): 0 means no direct write was pending. */
  pendingAtRes: number[]
  /** Chunks given to res.socket.write() by anything but res.write() and res.end(): the direct writes. */
  direct: Array<string | Buffer>
}

type AnyWrite = (this: unknown, ...args: unknown[]) => boolean

const spies = new WeakMap<object, Spied>()
// Socket writes made by res.write() or res.end() (node's own framing) are not direct writes.
let inside = 0

// Node's own res.write and res.end, wrapped in place for this file: the stream
// writes directly only while res.write is node's, so the spy cannot sit on the response.
for (const name of ['write', 'end'] as const) {
  const prototype = http.OutgoingMessage.prototype as unknown as Record<string, AnyWrite>
  const original = prototype[name] as AnyWrite
  prototype[name] = function (this: unknown, ...args: unknown[]) {
    const spied = spies.get(this as object)
    if (spied !== undefined && name === 'write') {
      spied.res.push(args[0] as string | Buffer)
      spied.pendingAtRes.push((this as http.ServerResponse).socket?.writableLength ?? -1)
    }
    inside++
    try {
      return original.apply(this, args)
    } finally {
      inside--
    }
  }
  t.teardown(() => { prototype[name] = original })
}

// Records what one response (its head already out) writes, through res.write and directly.
function spy (res: http.ServerResponse): Spied {
  const spied: Spied = { res: [], pendingAtRes: [], direct: [] }
  spies.set(res, spied)
  const socket = res.socket as net.Socket
  const socketWrite = socket.write as AnyWrite
  ;(socket as unknown as Record<string, AnyWrite>).write = function (this: unknown, ...args: unknown[]) {
    if (inside === 0) spied.direct.push(args[0] as string | Buffer)
    return socketWrite.apply(this, args)
  }
  return spied
}

interface Opened {
  stream: SSEStream
  res: http.ServerResponse
  spied: Spied
}

interface ServeOptions extends SSEStreamOptions {
  head?: () => SSEHead
}

// A node:http server: /sse opens a stream (head out, spy on), /second answers 'second'.
async function serve (t: Test, options: ServeOptions = {}): Promise<{ port: number, next: () => Promise<Opened> }> {
  const { head, ...streamOptions } = options
  const opened: Opened[] = []
  const waiters: Array<(value: Opened) => void> = []
  const server = http.createServer((req, res) => {
    if (req.url === '/second') {
      res.end('second')
      return
    }
    const stream = new SSEStream(res, head ?? (() => ({ statusCode: 200, headers: sseHeaders(1) })), { keepAlive: false, ...streamOptions })
    stream.open()
    const entry = { stream, res, spied: spy(res) }
    const waiter = waiters.shift()
    if (waiter !== undefined) waiter(entry)
    else opened.push(entry)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  const next = (): Promise<Opened> => {
    const entry = opened.shift()
    return entry !== undefined ? Promise.resolve(entry) : new Promise((resolve) => waiters.push(resolve))
  }
  return { port: (server.address() as net.AddressInfo).port, next }
}

interface RawResponse {
  status: number
  headers: Record<string, string>
  /** The body's chunks as framed on the wire (a sized body is one). */
  chunks: Buffer[]
}

// An HTTP/1.1 client over a raw socket that checks the framing byte by byte.
class RawClient {
  readonly socket: net.Socket
  #buffer = Buffer.alloc(0)
  #parts: Buffer[] = []
  #closed = false
  #wake: (() => void) | null = null

  constructor (port: number) {
    this.socket = net.connect(port, '127.0.0.1')
    this.socket.on('data', (data: Buffer) => {
      this.#parts.push(data)
      this.#wake?.()
    })
    this.socket.on('close', () => {
      this.#closed = true
      this.#wake?.()
    })
  }

  request (path: string, method = 'GET'): void {
    this.socket.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
  }

  /** Reads one whole response; rejects on any framing error (or, as a bound, after 10 s without one). */
  response (method = 'GET'): Promise<RawResponse> {
    return within(this.#response(method), 10_000, 'a whole response')
  }

  async #response (method: string): Promise<RawResponse> {
    const first = await this.#line()
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(first)?.[1])
    if (Number.isNaN(status)) throw new Error(`not a status line: ${JSON.stringify(first)}`)
    const headers: Record<string, string> = {}
    for (let line = await this.#line(); line !== ''; line = await this.#line()) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
    }
    const chunks: Buffer[] = []
    if (method === 'HEAD' || status === 204 || status === 304) return { status, headers, chunks }
    if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const size = await this.#line()
        if (!/^[0-9a-f]+$/.test(size)) throw new Error(`bad chunk size line ${JSON.stringify(size)}`)
        if (size === '0') {
          if (await this.#line() !== '') throw new Error('bytes after the last chunk')
          break
        }
        chunks.push(Buffer.from(await this.#take(parseInt(size, 16))))
        if (await this.#line() !== '') throw new Error('a chunk is not followed by CRLF')
      }
    } else if (headers['content-length'] !== undefined) {
      chunks.push(Buffer.from(await this.#take(Number(headers['content-length']))))
    }
    return { status, headers, chunks }
  }

  /** Bytes received and not read by response() yet. */
  unread (): number {
    return this.#buffer.length + this.#parts.reduce((sum, part) => sum + part.length, 0)
  }

  async #fill (): Promise<void> {
    if (this.#parts.length === 0) {
      if (this.#closed) throw new Error('the connection closed')
      await new Promise<void>((resolve) => { this.#wake = resolve })
      this.#wake = null
    }
    this.#buffer = Buffer.concat([this.#buffer, ...this.#parts])
    this.#parts = []
  }

  async #line (): Promise<string> {
    let end: number
    while ((end = this.#buffer.indexOf('\r\n')) < 0) await this.#fill()
    const line = this.#buffer.subarray(0, end).toString('latin1')
    this.#buffer = this.#buffer.subarray(end + 2)
    return line
  }

  async #take (size: number): Promise<Buffer> {
    while (this.#buffer.length < size) await this.#fill()
    const bytes = this.#buffer.subarray(0, size)
    this.#buffer = this.#buffer.subarray(size)
    return bytes
  }
}

function connect (t: Test, port: number): RawClient {
  const client = new RawClient(port)
  t.teardown(() => { client.socket.destroy() })
  return client
}

// A server and one raw client with a stream open on /sse: the setup of most tests below.
async function openOne (t: Test, options: ServeOptions = {}): Promise<Opened & { client: RawClient, socket: net.Socket, next: () => Promise<Opened> }> {
  const { port, next } = await serve(t, options)
  const client = connect(t, port)
  client.request('/sse')
  const opened = await next()
  return { ...opened, client, next, socket: opened.res.socket as net.Socket }
}

const text = (chunks: Array<string | Buffer>): string[] => chunks.map((chunk) => Buffer.from(chunk).toString())
const event = (i: number, size = 16 * 1024): string => `id: ${i}\ndata: ${'p'.repeat(size)}\n\n`
const ids = (chunks: Buffer[]): number[] => new SSEParser().push(Buffer.concat(chunks).toString()).map((parsed) => Number(parsed.id))
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

// Writes events one per turn (each a direct write) until the socket refuses one, bounded (a few MB on
// loopback); returns how many were written.
async function fillSocket (stream: SSEStream, socket: net.Socket): Promise<number> {
  let i = 0
  for (; i < 2000 && !socket.writableNeedDrain; i++) {
    stream.write(event(i))
    await turn()
  }
  return i
}

t.test('frameChunk and SharedEvent: one HTTP/1.1 chunk, sized in bytes, framed once', async (t) => {
  t.equal(frameChunk('data: é\n\n'), 'a\r\ndata: é\n\n\r\n', 'a string is sized in UTF-8 bytes')
  t.same(frameChunk(Buffer.from('x'.repeat(300))), Buffer.from('12c\r\n' + 'x'.repeat(300) + '\r\n'))
  const shared = new SharedEvent(Buffer.from('data: 1\n\n'))
  t.equal(shared.chunk, shared.chunk, 'the framed chunk is made once and kept')
  t.equal(shared.chunk.toString(), '9\r\ndata: 1\n\n\r\n')
  t.equal(directSocket({}), null, 'not a node:http response: no direct socket')
})

t.test('plain HTTP/1.1: each event is one pre-framed chunk on res.socket.write, nothing through res.write', async (t) => {
  const { client, stream, spied } = await openOne(t)
  // One event per turn, as a fan-out writes (a burst in one turn is corked: see the next test).
  stream.send({ id: '1', data: 'one' })
  await turn()
  stream.write('data: é\n\n')
  await turn()
  stream.write(Buffer.from('data: bytes\n\n'))
  await turn()
  stream.writeShared(new SharedEvent(Buffer.from('data: shared\n\n')))
  await turn()
  stream.write('')
  await turn()
  stream.close()
  const response = await client.response()
  t.same(spied.res, [], 'res.write was not used')
  t.same(text(spied.direct), [
    '11\r\nid: 1\ndata: one\n\n\r\n',
    'a\r\ndata: é\n\n\r\n',
    'd\r\ndata: bytes\n\n\r\n',
    'e\r\ndata: shared\n\n\r\n'
  ], 'one socket write per event, framed; the empty write sends nothing')
  t.equal(response.headers['transfer-encoding'], 'chunked')
  t.same(text(response.chunks), ['id: 1\ndata: one\n\n', 'data: é\n\n', 'data: bytes\n\n', 'data: shared\n\n'], 'a valid chunked body')
})

t.test('a burst in one turn is corked from its second write on, as res.write() corks, and stays in order', async (t) => {
  const { client, stream, spied, socket } = await openOne(t)
  let corks = 0
  const cork = socket.cork.bind(socket)
  socket.cork = () => { corks++; cork() }
  for (let i = 1; i <= 4; i++) stream.send({ id: String(i), data: 'x' })
  t.equal(socket.writableCorked, 1, 'corked until the next tick')
  await turn()
  t.equal(socket.writableCorked, 0, 'uncorked on the next tick')
  t.equal(spied.direct.length, 2, 'the first write goes out at once, the second into the cork')
  t.equal(spied.res.length, 2, 'later writes of the turn take res.write(), into the same cork')
  t.ok(corks >= 1)
  stream.send({ id: '5', data: 'x' })
  t.equal(spied.direct.length, 3, 'a new turn writes directly again')
  stream.close()
  t.same(ids((await client.response()).chunks), [1, 2, 3, 4, 5])
})

t.test('a registry broadcast is framed once: every socket gets the same chunk, a write()-only subscriber the bytes', async (t) => {
  const { port, next } = await serve(t)
  const registry = new Registry('fast-path', { replay: 0 })
  t.teardown(() => registry.close())
  const clients = [connect(t, port), connect(t, port)]
  const opened: Opened[] = []
  for (const client of clients) {
    client.request('/sse')
    const entry = await next()
    opened.push(entry)
    registry.add(entry.stream)
  }
  const received: Array<string | Buffer> = []
  const plain: Subscriber = { write: (encoded) => { received.push(encoded) }, onClose: () => {}, isClosed: false }
  registry.add(plain)
  const id = await registry.send({ data: 'hello' })
  const [first, second] = opened as [Opened, Opened]
  t.equal(first.spied.direct.length, 1)
  t.equal(first.spied.direct[0], second.spied.direct[0], 'the very same framed Buffer for both sockets')
  t.equal(String(first.spied.direct[0]), frameChunk(`id: ${id}\ndata: hello\n\n`))
  t.same(text(received), [`id: ${id}\ndata: hello\n\n`], 'a subscriber without writeShared gets the unframed bytes')
  for (const { stream } of opened) stream.close()
  for (const client of clients) t.same(text((await client.response()).chunks), [`id: ${id}\ndata: hello\n\n`])
})

t.test('not taken with compression: the compressor writes through res.write', async (t) => {
  const { client, stream, spied } = await openOne(t, {
    compression: { encoding: 'gzip' },
    head: () => ({ statusCode: 200, headers: { ...sseHeaders(1), 'content-encoding': 'gzip' } })
  })
  await stream.send({ data: 'one' })
  await stream.send({ data: 'two' })
  stream.close()
  const response = await client.response()
  t.same(spied.direct, [], 'no direct socket write')
  t.ok(spied.res.length >= 2, 'the frames went through res.write')
  t.equal(zlib.gunzipSync(Buffer.concat(response.chunks)).toString(), 'data: one\n\ndata: two\n\n')
})

t.test('not taken when middleware wraps res.write: the wrapper sees every event', async (t) => {
  const { client, stream, res, spied } = await openOne(t)
  // What a compression or metrics middleware does: its bytes on the wire must be its own.
  const seen: string[] = []
  const write = res.write.bind(res) as AnyWrite
  ;(res as unknown as Record<string, AnyWrite>).write = (...args: unknown[]) => {
    seen.push(String(args[0]))
    return write(...args)
  }
  stream.send({ data: 'one' })
  stream.writeShared(new SharedEvent(Buffer.from('data: two\n\n')))
  stream.close()
  const response = await client.response()
  t.same(seen, ['data: one\n\n', 'data: two\n\n'])
  t.same(spied.direct, [], 'no direct socket write')
  t.same(text(response.chunks), ['data: one\n\n', 'data: two\n\n'])
})

t.test('not taken on HTTP/2: the compatibility response is written through res.write', async (t) => {
  let writes = 0
  let direct: unknown = 'unset'
  const server = http2.createServer((_req, res) => {
    const stream = new SSEStream(res as unknown as SSEResponse, () => ({ statusCode: 200, headers: sseHeaders(2) }), { keepAlive: false })
    stream.open()
    direct = directSocket(res)
    const write = res.write.bind(res) as AnyWrite
    ;(res as unknown as Record<string, AnyWrite>).write = (...args: unknown[]) => {
      writes++
      return write(...args)
    }
    stream.send({ data: 'one' })
    stream.writeShared(new SharedEvent(Buffer.from('data: two\n\n')))
    stream.close()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const session = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`)
  t.teardown(() => session.close())
  const request = session.request({ ':path': '/sse' })
  let body = ''
  request.setEncoding('utf8')
  request.on('data', (chunk: string) => { body += chunk })
  await within(once(request, 'end'), 10_000, 'the HTTP/2 body')
  t.equal(direct, null)
  t.equal(writes, 2, 'both events through res.write')
  t.equal(body, 'data: one\n\ndata: two\n\n')
})

t.test('a refused direct write queues what follows; the socket drains, then the queue goes out in order through one res.write', async (t) => {
  const { client, stream, spied, socket } = await openOne(t)
  client.socket.pause()
  let i = await fillSocket(stream, socket)
  t.ok(socket.writableNeedDrain, 'the socket refused a write')
  t.same(spied.res, [], 'up to there, every write was direct')
  const direct = spied.direct.length
  t.equal(direct, i)
  const queued = [stream.write(event(i++)), stream.write(event(i++)), stream.write(event(i++))]
  t.equal(spied.direct.length, direct, 'queued: no socket write')
  t.same(spied.res, [], 'queued: no res.write while the direct write is pending')
  client.socket.resume()
  // A bound, not a measurement: a stream that missed the socket's drain would wait forever.
  t.same(await within(Promise.all(queued), 10_000, 'the queued writes'), [true, true, true])
  t.equal(spied.res.length, 1, 'the queue went out as one res.write')
  t.same(spied.pendingAtRes, [0], '...once the socket had sent the direct writes')
  t.equal(String(spied.res[0]), event(i - 3) + event(i - 2) + event(i - 1))
  await turn()
  stream.write(event(i++))
  t.equal(spied.direct.length, direct + 1, 'then direct again')
  stream.close()
  const response = await client.response()
  t.same(ids(response.chunks), Array.from({ length: i }, (_, n) => n), 'every event, in order')
})

t.test('a corked socket keeps res.write, in order with the direct writes around it', async (t) => {
  const { client, stream, spied, socket } = await openOne(t)
  stream.write('data: a\n\n')
  socket.cork()
  stream.write('data: b\n\n')
  stream.write('data: c\n\n')
  socket.uncork()
  stream.write('data: d\n\n')
  stream.close()
  const response = await client.response()
  t.same(text(spied.res), ['data: b\n\n', 'data: c\n\n'], 'while corked, through res.write')
  t.same(text(spied.direct), ['9\r\ndata: a\n\n\r\n', '9\r\ndata: d\n\n\r\n'], 'direct before and after')
  t.same(text(response.chunks), ['data: a\n\n', 'data: b\n\n', 'data: c\n\n', 'data: d\n\n'])
})

t.test('close() ends the body with 0\\r\\n\\r\\n after direct chunks, also while one is pending, and the connection serves a second request', async (t) => {
  const first = await openOne(t)
  const { client, next } = first
  first.stream.write('data: one\n\n')
  first.stream.close()
  t.same(text((await client.response()).chunks), ['data: one\n\n'])
  client.request('/second')
  t.same(text((await client.response()).chunks), ['second'], 'keep-alive: the same connection serves the next request')

  // Again with a direct write pending and events queued behind it when close() comes.
  client.request('/sse')
  const { stream, res, spied } = await next()
  const socket = res.socket as net.Socket
  const listeners = socket.listenerCount('drain')
  client.socket.pause()
  let i = await fillSocket(stream, socket)
  const last = stream.write(event(i++))
  t.equal(socket.listenerCount('drain'), listeners + 1, 'the stream waits for the socket to drain')
  stream.close()
  t.equal(socket.listenerCount('drain'), listeners, 'and leaves no listener on a socket that outlives it')
  t.same(spied.res, [], 'res.end() sent the queued event, not res.write()')
  client.socket.resume()
  t.equal(await last, true)
  const response = await client.response()
  t.same(ids(response.chunks), Array.from({ length: i }, (_, n) => n), 'every event, then the last chunk')
  client.request('/second')
  t.same(text((await client.response()).chunks), ['second'], 'the connection is reused after that too')
  t.equal(client.unread(), 0)
})

t.test('a response ended behind the stream\'s back gets no direct write: res.write reports it, the connection stays valid', async (t) => {
  const { client, stream, res, spied } = await openOne(t)
  res.end()
  t.equal(await within(stream.write('data: late\n\n'), 10_000, 'the late write'), false, 'the write is dropped')
  t.equal(stream.closeReason, 'client', 'the response\'s write-after-end error ended the stream')
  t.same(spied.direct, [], 'nothing went to the socket after the last chunk')
  t.same((await client.response()).chunks, [])
  client.request('/second')
  t.same(text((await client.response()).chunks), ['second'])
})

t.test('no body on a HEAD or 204 response: nothing is written, the connection stays usable', async (t) => {
  const head = await serve(t)
  const client = connect(t, head.port)
  client.request('/sse', 'HEAD')
  const opened = await head.next()
  opened.stream.send({ data: 'ignored' })
  opened.stream.close()
  t.equal((await client.response('HEAD')).status, 200)
  t.same(opened.spied.direct, [], 'no direct write for a HEAD response')
  client.request('/second')
  t.same(text((await client.response()).chunks), ['second'], 'the head was all that was sent')

  const empty = await serve(t, { head: () => ({ statusCode: 204, headers: sseHeaders(1) }) })
  const other = connect(t, empty.port)
  other.request('/sse')
  const noContent = await empty.next()
  noContent.stream.send({ data: 'ignored' })
  noContent.stream.close()
  t.equal((await other.response()).status, 204)
  t.same(noContent.spied.direct, [], 'no direct write for a 204')
  other.request('/second')
  t.same(text((await other.response()).chunks), ['second'])
})

t.test('a stalled reader on the direct path is closed at its hard bound', async (t) => {
  const errors: Error[] = []
  const bound = 64 * 1024
  const { client, stream, spied } = await openOne(t, { maxBufferedBytes: bound, hardMaxBufferedBytes: bound, onError: (error) => { errors.push(error) } })
  client.socket.pause()
  let held = 0
  // Bounded: far more than the bound; stop once the stream gave up.
  for (let i = 0; i < 2000 && !stream.isClosed; i++) {
    stream.write(event(i))
    // Everything unsent (the socket's buffer and the stream's queue) counts toward the bound.
    if (!stream.isClosed) held = Math.max(held, stream.bufferedAmount)
    await turn()
  }
  t.equal(stream.closeReason, 'overflow')
  t.match(errors, [{ code: 'FST_ERR_SSE_OVERFLOW' }])
  // The write the socket refused is in its buffer already: one event past the bound at most.
  t.ok(held <= bound + Buffer.byteLength(frameChunk(event(0))), `never more than its bound and one event (${held})`)
  t.ok(spied.direct.length > 0, 'the writes before the stall were direct')
  t.same(spied.res, [], 'and nothing went through res.write')
})

t.test('a stalled reader on the direct path loses its oldest events with drop-oldest', async (t) => {
  const bound = 64 * 1024
  const { client, stream, res, spied, socket } = await openOne(t, { maxBufferedBytes: bound, hardMaxBufferedBytes: bound, overflow: 'drop-oldest' })
  client.socket.pause()
  let i = await fillSocket(stream, socket)
  const direct = i
  t.equal(spied.direct.length, direct, 'direct until the socket refused')
  let queued = 0
  for (let more = 0; more < 40; more++, i++) {
    stream.write(event(i))
    queued = Math.max(queued, stream.bufferedAmount - res.writableLength)
  }
  t.ok(queued > 0 && queued <= bound, `the queue stays within its bound (${queued})`)
  t.equal(stream.isClosed, false, 'the stream stays open')
  client.socket.resume()
  stream.close()
  const received = ids((await client.response()).chunks)
  t.same(received.slice(0, direct), Array.from({ length: direct }, (_, n) => n), 'the direct writes all arrived')
  t.equal(received[received.length - 1], i - 1, 'the newest event arrived')
  t.ok(received.length < i, 'older queued events were dropped')
  t.same(received, [...received].sort((a, b) => a - b), 'in order, whole events only')
})
