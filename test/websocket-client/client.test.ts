import t, { type Test } from 'tap'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { createServer, type IncomingMessage } from 'node:http'
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws'
import {
  WebSocketClient,
  type WebSocketClientCloseEvent,
  type WebSocketClientMessageEvent,
  type WebSocketClientOptions,
  type WebSocketClientReconnectingEvent
} from '../../src/websocket-client/index.js'
import { MAX_RETRY_AFTER, retryAfterDelay } from '../../src/websocket-client/backoff.js'
import { waitFor, within } from '../helpers.js'

/** A real ws server on loopback, with what it saw. */
interface TestServer {
  wss: WebSocketServer
  port: number
  url: string
  /** Every connection, in order. */
  sockets: WebSocket[]
  requests: IncomingMessage[]
  /** Messages received, as [text or bytes, binary]. */
  received: Array<[string, boolean]>
  /** The n-th connection (0-based), once it is there. */
  connection: (index: number) => Promise<WebSocket>
  /** Terminates every connection and stops listening. */
  stop: () => Promise<void>
}

async function startServer (t: Test, options: ServerOptions = {}, port = 0): Promise<TestServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port, ...options })
  await once(wss, 'listening')
  const actual = (wss.address() as AddressInfo).port
  const server: TestServer = {
    wss,
    port: actual,
    url: `ws://127.0.0.1:${actual}/chat/bongo`,
    sockets: [],
    requests: [],
    received: [],
    connection: async (index) => {
      await waitFor(() => server.sockets.length > index, `connection ${index}`)
      return server.sockets[index] as WebSocket
    },
    stop: async () => {
      for (const socket of wss.clients) socket.terminate()
      if (stopped) return
      stopped = true
      await new Promise((resolve) => wss.close(resolve))
    }
  }
  let stopped = false
  wss.on('connection', (socket, request) => {
    server.sockets.push(socket)
    server.requests.push(request)
    socket.on('message', (data, binary) => { server.received.push([binary ? `<${(data as Buffer).toString('hex')}>` : String(data), binary]) })
  })
  t.teardown(server.stop)
  return server
}

/** A client whose events are recorded, closed at teardown. */
function connect (t: Test, url: string, options?: WebSocketClientOptions): { client: WebSocketClient, events: Recorded } {
  const client = new WebSocketClient(url, options)
  const events = record(client)
  t.teardown(() => client.close())
  return { client, events }
}

interface Recorded {
  names: string[]
  messages: WebSocketClientMessageEvent[]
  closes: WebSocketClientCloseEvent[]
  reconnecting: WebSocketClientReconnectingEvent[]
  errors: Error[]
}

function record (client: WebSocketClient): Recorded {
  const events: Recorded = { names: [], messages: [], closes: [], reconnecting: [], errors: [] }
  client.on('open', () => { events.names.push('open') })
  client.on('message', (event) => { events.names.push('message'); events.messages.push(event) })
  client.on('close', (event) => { events.names.push('close'); events.closes.push(event) })
  client.on('reconnecting', (event) => { events.names.push('reconnecting'); events.reconnecting.push(event) })
  client.on('error', (error) => { events.names.push('error'); events.errors.push(error) })
  return events
}

/**
 * Resolves with the next `event` of the client (bounded, not measured).
 * Not events.once(): that one rejects on 'error', which a reconnecting client emits on its way.
 */
function next (client: WebSocketClient, event: 'open' | 'close' | 'reconnecting' | 'message'): Promise<unknown> {
  return within(new Promise((resolve) => { client.once(event, resolve) }), 5000, `client ${event}`)
}

/** A port nothing listens on (one a server just released). */
async function freePort (): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const { port } = wss.address() as AddressInfo
  await new Promise((resolve) => wss.close(resolve))
  return port
}

/** The process's active handles and requests, by kind (Timeout, TCPSocketWrap, ...). */
function resources (): string[] {
  return process.getActiveResourcesInfo()
}

/**
 * The kinds of handle there are more of now than in `before`. Fewer is fine:
 * the handles of an earlier test may still be closing when `before` is taken.
 */
function leftovers (before: string[]): string[] {
  const count = (list: string[], kind: string): number => list.filter((item) => item === kind).length
  const now = resources()
  return [...new Set(now)].filter((kind) => count(now, kind) > count(before, kind))
}

const fast = { initialDelay: 1, maxDelay: 1, jitter: 0, resetAfter: 0 }

t.test('open, message and close: handshake options reach the server, close() resolves after the final close', async (t) => {
  const server = await startServer(t, { handleProtocols: (offered) => offered.has('chat.v1') ? 'chat.v1' : false })
  server.wss.on('connection', (socket) => { socket.send('welcome') })
  const { client, events } = connect(t, server.url, {
    protocols: ['chat.v2', 'chat.v1'],
    headers: { 'x-token': 'abc' },
    origin: 'http://app.test'
  })
  t.equal(client.readyState, WebSocketClient.CONNECTING)
  t.equal(client.url, server.url)
  await next(client, 'message')
  t.equal(client.readyState, WebSocketClient.OPEN)
  t.equal(client.protocol, 'chat.v1', 'the subprotocol the server chose')
  t.same(events.messages, [{ data: 'welcome', binary: false }])
  const request = server.requests[0] as IncomingMessage
  t.equal(request.headers['x-token'], 'abc')
  t.equal(request.headers.origin, 'http://app.test')
  t.equal(request.headers['sec-websocket-protocol'], 'chat.v2,chat.v1')
  t.equal(request.url, '/chat/bongo')

  const serverSide = await server.connection(0)
  const serverClosed = once(serverSide, 'close')
  const closing = client.close(4000, 'done')
  t.equal(client.readyState, WebSocketClient.CLOSING)
  t.equal(client.close(), closing, 'a second close() returns the same promise')
  await closing
  t.equal(client.readyState, WebSocketClient.CLOSED)
  t.same(events.names, ['open', 'message', 'close'])
  t.same(events.closes, [{ code: 4000, reason: 'done', reconnecting: false }])
  const [code, reason] = await serverClosed
  t.equal(code, 4000)
  t.equal(String(reason), 'done')
  t.equal(client.socket, null)
  t.throws(() => client.send('late'), { code: 'FST_ERR_WS_CLIENT_CLOSED' })
  t.equal(client.ping(), false)
  await client.close()
})

t.test('text stays text, bytes are binary, anything else is JSON text', async (t) => {
  const server = await startServer(t)
  // An echo that keeps the kind of each message.
  server.wss.on('connection', (socket) => { socket.on('message', (data, binary) => { socket.send(data, { binary }) }) })
  const { client, events } = connect(t, server.url)
  await next(client, 'open')
  t.equal(client.send('hé'), true, 'written to the open socket')
  client.send(Buffer.from([1, 2, 3]))
  client.send(new Uint8Array([4, 5]))
  client.send(new Uint16Array([0x0706]).buffer)
  client.send({ type: 'join', room: 'bongo' })
  client.send([1, 'two'])
  client.send(42)
  client.send(null)
  t.throws(() => client.send(undefined as unknown as null), { code: 'FST_ERR_WS_INVALID_MESSAGE' })
  await waitFor(() => events.messages.length === 8, 'the echoes')
  t.same(events.messages, [
    { data: 'hé', binary: false },
    { data: Buffer.from([1, 2, 3]), binary: true },
    { data: Buffer.from([4, 5]), binary: true },
    { data: Buffer.from([6, 7]), binary: true },
    { data: '{"type":"join","room":"bongo"}', binary: false },
    { data: '[1,"two"]', binary: false },
    { data: '42', binary: false },
    { data: 'null', binary: false }
  ])
  const binary = events.messages[1] as WebSocketClientMessageEvent
  t.ok(Buffer.isBuffer(binary.data), 'binary data is a Buffer')
})

t.test('messages sent before open are queued and flushed in order, after the open listeners', async (t) => {
  const server = await startServer(t)
  const { client } = connect(t, server.url)
  const reused = Buffer.from('bytes')
  t.equal(client.send('one'), false, 'queued')
  client.send(reused)
  client.send({ n: 3 })
  reused.fill(0) // a queued Buffer is a copy
  t.equal(client.bufferedAmount, 3 + 5 + 7, 'the queued bytes')
  client.once('open', () => { client.send('from open') })
  await next(client, 'open')
  await waitFor(() => server.received.length === 4, 'the four messages')
  t.same(server.received, [
    ['from open', false],
    ['one', false],
    [`<${Buffer.from('bytes').toString('hex')}>`, true],
    ['{"n":3}', false]
  ])
  t.equal(client.bufferedAmount, 0)
})

t.test('the queue is bounded: one message over maxQueued throws and the others stay', async (t) => {
  const server = await startServer(t)
  const { client } = connect(t, server.url, { maxQueued: 2 })
  client.send('a')
  client.send('b')
  t.throws(() => client.send('c'), { code: 'FST_ERR_WS_CLIENT_QUEUE_FULL', message: 'The WebSocket client queued more than 2 messages while not connected' })
  await next(client, 'open')
  client.send('d')
  await waitFor(() => server.received.length === 3, 'the messages')
  t.same(server.received.map(([text]) => text), ['a', 'b', 'd'])

  // maxQueued: 0 sends only while open.
  const { client: strict } = connect(t, server.url, { maxQueued: 0 })
  t.throws(() => strict.send('x'), { code: 'FST_ERR_WS_CLIENT_QUEUE_FULL' })
})

t.test('a ping calls back on its own pong only, not on unsolicited or unrelated pongs', async (t) => {
  // No automatic pong: the server answers by hand, after pongs of its own.
  const server = await startServer(t, { autoPong: false })
  server.wss.on('connection', (socket) => {
    let pending: Buffer | undefined
    socket.on('ping', (data) => {
      pending = data
      socket.pong()
      socket.pong('unrelated')
      socket.pong(Buffer.concat([data, Buffer.from('x')]))
      socket.send('unsolicited pongs sent')
    })
    socket.on('message', () => { socket.pong(pending) })
  })
  const { client, events } = connect(t, server.url)
  t.equal(client.ping(), false, 'not open yet: false, as websocket-driver')
  await next(client, 'open')
  const roundTrips: number[] = []
  t.equal(client.ping(undefined, (ms) => { roundTrips.push(ms) }), true)
  await next(client, 'message')
  t.same(events.messages, [{ data: 'unsolicited pongs sent', binary: false }])
  t.same(roundTrips, [], 'frames arrive in order: the three pongs came and did not fire the callback')
  client.send('now answer')
  await waitFor(() => roundTrips.length === 1, 'the matching pong')
  t.ok((roundTrips[0] as number) >= 0)
})

t.test('pings with a payload of their own match it; roundTrip() is the promise form', async (t) => {
  const server = await startServer(t)
  const pings: string[] = []
  server.wss.on('connection', (socket) => { socket.on('ping', (data) => { pings.push(String(data)) }) })
  const { client } = connect(t, server.url)
  await t.rejects(client.roundTrip(), { code: 'FST_ERR_WS_CLIENT_NOT_OPEN' }, 'not open yet')
  await next(client, 'open')
  const fired: string[] = []
  client.ping('alpha', () => { fired.push('alpha') })
  client.ping(Buffer.from('beta'), () => { fired.push('beta') })
  const ms = await client.roundTrip()
  t.equal(typeof ms, 'number')
  t.same(fired, ['alpha', 'beta'], 'ws answers pings in order')
  t.equal(pings[0], 'alpha')
  t.equal(pings[1], 'beta')
  t.not(pings[2], '', 'a generated payload is never empty')
  t.throws(() => client.ping('x'.repeat(126)), { code: 'FST_ERR_WS_INVALID_OPTION' })

  // A roundTrip whose connection closes first rejects.
  const silent = await startServer(t, { autoPong: false })
  const { client: other } = connect(t, silent.url, { reconnect: false })
  await next(other, 'open')
  const waiting = other.roundTrip()
  ;(await silent.connection(0)).terminate()
  await t.rejects(waiting, { code: 'FST_ERR_WS_CLIENT_NOT_OPEN' })
})

t.test('reconnects after the server terminates the socket or closes with 1001, 1011, 1012, 1013', async (t) => {
  const server = await startServer(t)
  const { client, events } = connect(t, server.url, { reconnect: { initialDelay: 5, jitter: 0, resetAfter: 0 } })
  await next(client, 'open')
  ;(await server.connection(0)).terminate()
  const closed = await next(client, 'close')
  t.same(closed, { code: 1006, reason: '', reconnecting: true })
  t.equal(client.readyState, WebSocketClient.CONNECTING, 'connecting again')
  await next(client, 'open')
  let index = 1
  for (const code of [1001, 1011, 1012, 1013]) {
    const closing = next(client, 'close')
    ;(await server.connection(index++)).close(code, 'bye')
    t.same(await closing, { code, reason: 'bye', reconnecting: true }, `${code} reconnects`)
    await next(client, 'open')
  }
  t.same(events.reconnecting, Array(5).fill({ attempt: 1, delay: 5 }), 'with resetAfter: 0, the backoff starts over after each open')
  t.same(events.names.filter((name) => name !== 'reconnecting'), Array(6).fill(['open', 'close']).flat().slice(0, 11))
  t.equal(server.sockets.length, 6)
})

t.test('reconnects after a server restart on the same port, the delays growing, then starting over', async (t) => {
  const first = await startServer(t)
  const { client, events } = connect(t, first.url, { reconnect: { initialDelay: 20, factor: 2, jitter: 0, resetAfter: 50 } })
  await next(client, 'open')
  await first.stop()
  await waitFor(() => events.reconnecting.length >= 3, 'three attempts against the stopped server')
  const second = await startServer(t, {}, first.port)
  await next(client, 'open')
  const delays = events.reconnecting.map((event) => event.delay)
  t.same(delays.slice(0, 3), [20, 40, 80])
  t.same(delays, delays.map((_delay, index) => 20 * 2 ** index), 'each attempt waits twice as long')
  t.same(events.reconnecting.map((event) => event.attempt), delays.map((_delay, index) => index + 1))
  t.same(events.closes, [{ code: 1006, reason: '', reconnecting: true }])
  t.ok(events.errors.every((error) => (error as NodeJS.ErrnoException).code === 'ECONNREFUSED'), 'refused while the server was down')

  const count = events.reconnecting.length
  // Up for longer than resetAfter: the backoff starts over.
  await new Promise((resolve) => setTimeout(resolve, 80))
  ;(await second.connection(0)).close(1001)
  await waitFor(() => events.reconnecting.length > count, 'a new attempt')
  t.same(events.reconnecting[count], { attempt: 1, delay: 20 }, 'the backoff started over after the open')
  await next(client, 'open')
})

t.test('delays are capped at maxDelay, jitter takes off at most its share, maxRetries gives up', async (t) => {
  const port = await freePort()
  const { client, events } = connect(t, `ws://127.0.0.1:${port}/`, { reconnect: { initialDelay: 5, maxDelay: 40, factor: 2, jitter: 0, maxRetries: 6 } })
  t.same(await next(client, 'close'), { code: 1006, reason: '', reconnecting: false })
  t.same(events.reconnecting.map((event) => event.delay), [5, 10, 20, 40, 40, 40])
  t.equal(events.errors.length, 7, 'the first connection and six retries failed')
  t.same(events.names.at(-1), 'close', 'the final close is the last event')
  t.equal(client.readyState, WebSocketClient.CLOSED)
  t.throws(() => client.send('x'), { code: 'FST_ERR_WS_CLIENT_CLOSED' })

  const { client: jittered, events: jitterEvents } = connect(t, `ws://127.0.0.1:${port}/`, { reconnect: { initialDelay: 100, maxDelay: 400, jitter: 0.5, maxRetries: 0 } })
  await next(jittered, 'close')
  t.same(jitterEvents.reconnecting, [], 'maxRetries: 0 never retries')

  const bases = [10, 20, 40, 80, 80]
  const { client: spread, events: spreadEvents } = connect(t, `ws://127.0.0.1:${port}/`, { reconnect: { initialDelay: 10, maxDelay: 80, jitter: 0.5, maxRetries: bases.length } })
  await next(spread, 'close')
  t.equal(spreadEvents.reconnecting.length, bases.length)
  spreadEvents.reconnecting.forEach((event, index) => {
    const base = bases[index] as number
    t.ok(event.delay >= Math.round(base / 2) && event.delay <= base, `attempt ${event.attempt}: ${event.delay} in [${base / 2}, ${base}]`)
  })
})

t.test('no reconnect after the client closes, or after a normal or policy close from the server', async (t) => {
  const server = await startServer(t)
  const { client, events } = connect(t, server.url, { reconnect: fast })
  await next(client, 'open')
  await client.close()
  t.same(events.closes, [{ code: 1000, reason: '', reconnecting: false }])

  for (const code of [1000, 1003, 1007, 1008, 1009, 1002, 4000]) {
    const before = server.sockets.length
    const { client, events } = connect(t, server.url, { reconnect: fast })
    await next(client, 'open')
    const closed = next(client, 'close')
    ;(await server.connection(before)).close(code, 'policy')
    t.same(await closed, { code, reason: 'policy', reconnecting: false }, `${code} does not reconnect`)
    t.same(events.reconnecting, [])
    t.equal(client.readyState, WebSocketClient.CLOSED)
    t.equal(client.socket, null, 'no attempt under way')
    t.throws(() => client.send('x'), { code: 'FST_ERR_WS_CLIENT_CLOSED' })
    await client.close() // resolves at once
  }
  t.equal(server.sockets.length, 8, 'one connection per client')

  // Extra close codes reconnect when asked (1005: closed without a code).
  const { client: lenient, events: lenientEvents } = connect(t, server.url, { reconnect: { ...fast, closeCodes: [1005] } })
  await next(lenient, 'open')
  ;(await server.connection(8)).close()
  await next(lenient, 'open')
  t.same(lenientEvents.closes, [{ code: 1005, reason: '', reconnecting: true }])
})

t.test('a refused handshake: 404 stops, 503 retries', async (t) => {
  const server = await startServer(t, {
    verifyClient: (info, done) => { if (info.req.url === '/missing') done(false, 404); else done(false, 503) }
  })
  const { client: missing, events: missingEvents } = connect(t, `ws://127.0.0.1:${server.port}/missing`, { reconnect: fast })
  t.same(await next(missing, 'close'), { code: 1006, reason: '', reconnecting: false })
  t.match(missingEvents.errors, [{ code: 'FST_ERR_WS_CLIENT_HANDSHAKE', message: 'The server refused the WebSocket upgrade: HTTP 404', statusCode: 404 }])
  t.same(missingEvents.reconnecting, [])

  const { client: busy, events: busyEvents } = connect(t, `ws://127.0.0.1:${server.port}/busy`, { reconnect: { ...fast, maxRetries: 2 } })
  await next(busy, 'close')
  t.equal(busyEvents.reconnecting.length, 2)
  t.match(busyEvents.errors, Array(3).fill({ statusCode: 503 }))
})

t.test('close() while connecting aborts the handshake, without an error', async (t) => {
  const server = await startServer(t)
  const { client, events } = connect(t, server.url)
  client.send('never')
  await client.close(4001, 'changed my mind')
  t.same(events.names, ['close'])
  t.same(events.closes, [{ code: 4001, reason: 'changed my mind', reconnecting: false }])
  t.equal(client.readyState, WebSocketClient.CLOSED)
  t.equal(client.bufferedAmount, 0, 'the queue is dropped')
  t.same(server.received, [])
})

t.test('close() while waiting to reconnect clears the timer', async (t) => {
  const before = resources()
  const port = await freePort()
  const { client, events } = connect(t, `ws://127.0.0.1:${port}/`, { reconnect: { initialDelay: 60_000, jitter: 0 } })
  await next(client, 'reconnecting')
  t.same(events.reconnecting, [{ attempt: 1, delay: 60_000 }])
  t.ok(leftovers(before).includes('Timeout'), 'the reconnect timer')
  t.equal(client.readyState, WebSocketClient.CONNECTING)
  const closing = client.close(4002)
  t.same(events.closes, [], 'no event inside close()')
  await closing
  t.same(events.closes, [{ code: 4002, reason: '', reconnecting: false }])
  await waitFor(() => leftovers(before).length === 0, 'the handles of the client released')
  t.same(leftovers(before), [])
})

t.test('errors without an error listener do not throw; close() from a close listener stops the reconnection', async (t) => {
  const port = await freePort()
  // No 'error' listener: a refused connection must not crash the process, 'close' tells the end.
  const quiet = new WebSocketClient(`ws://127.0.0.1:${port}/`, { reconnect: false })
  t.same(await next(quiet, 'close'), { code: 1006, reason: '', reconnecting: false })

  const server = await startServer(t)
  const { client, events } = connect(t, server.url, { reconnect: fast })
  await next(client, 'open')
  client.once('close', () => { client.close(4003, 'enough') })
  ;(await server.connection(0)).terminate()
  await waitFor(() => events.closes.length === 2, 'the final close')
  t.same(events.closes, [{ code: 1006, reason: '', reconnecting: true }, { code: 4003, reason: 'enough', reconnecting: false }])
  t.same(events.reconnecting, [], 'the attempt was never announced')
  t.equal(server.sockets.length, 1)
})

t.test('20 reconnect cycles leave no listener behind on the ws instances', async (t) => {
  const server = await startServer(t)
  // The client asks to be cut off, so every cycle opens first.
  server.wss.on('connection', (socket) => { socket.on('message', () => { socket.terminate() }) })
  const { client, events } = connect(t, server.url, { reconnect: fast })
  const sockets = new Set<WebSocket | null>()
  client.on('open', () => {
    sockets.add(client.socket)
    if (sockets.size <= 20) client.send('cut me off')
  })
  const listeners = client.eventNames().map((name) => client.listenerCount(name))
  await waitFor(() => sockets.size === 21, '20 reconnects')
  t.same(events.reconnecting, Array(20).fill({ attempt: 1, delay: 1 }))
  await client.close()
  t.equal(sockets.size, 21, 'a new ws instance each time')
  for (const socket of sockets) {
    const names = socket?.eventNames()
    t.same(names, [], 'no listener left')
  }
  t.same(client.eventNames().map((name) => client.listenerCount(name)), listeners, 'the client keeps only its users\' listeners')
})

t.test('every timer and socket of the client is released once closed', async (t) => {
  const before = resources()
  const server = await startServer(t)
  const { client } = connect(t, server.url, { reconnect: { initialDelay: 1, jitter: 0 } })
  await next(client, 'open')
  ;(await server.connection(0)).terminate()
  await next(client, 'open')
  await client.roundTrip()
  client.send('bye')
  await client.close()
  await server.stop()
  await waitFor(() => leftovers(before).length === 0, 'every handle released')
  t.same(leftovers(before), [])
})

t.test('options are checked', async (t) => {
  const bad: Array<[string, () => unknown]> = [
    ['not a URL', () => new WebSocketClient('nope')],
    ['ftp scheme', () => new WebSocketClient('ftp://127.0.0.1/')],
    ['fragment', () => new WebSocketClient('ws://127.0.0.1/#x')],
    ['protocol with a space', () => new WebSocketClient('ws://127.0.0.1/', { protocols: 'a b' })],
    ['protocol twice', () => new WebSocketClient('ws://127.0.0.1/', { protocols: ['a', 'a'] })],
    ['negative maxQueued', () => new WebSocketClient('ws://127.0.0.1/', { maxQueued: -1 })],
    ['fractional maxQueued', () => new WebSocketClient('ws://127.0.0.1/', { maxQueued: 1.5 })],
    ['jitter over 1', () => new WebSocketClient('ws://127.0.0.1/', { reconnect: { jitter: 2 } })],
    ['factor under 1', () => new WebSocketClient('ws://127.0.0.1/', { reconnect: { factor: 0.5 } })],
    ['maxDelay under initialDelay', () => new WebSocketClient('ws://127.0.0.1/', { reconnect: { initialDelay: 100, maxDelay: 10 } })],
    ['NaN initialDelay', () => new WebSocketClient('ws://127.0.0.1/', { reconnect: { initialDelay: NaN } })],
    ['negative maxRetries', () => new WebSocketClient('ws://127.0.0.1/', { reconnect: { maxRetries: -1 } })],
    ['closeCodes not integers', () => new WebSocketClient('ws://127.0.0.1/', { reconnect: { closeCodes: ['1001' as unknown as number] } })],
    ['reconnect true', () => new WebSocketClient('ws://127.0.0.1/', { reconnect: true as unknown as false })]
  ]
  for (const [what, build] of bad) t.throws(build, { code: 'FST_ERR_WS_INVALID_OPTION' }, what)

  const server = await startServer(t)
  const { client } = connect(t, server.url)
  for (const code of [999, 1005, 1006, 1015, 2000, 5000, 1000.5]) {
    t.throws(() => client.close(code), { code: 'FST_ERR_WS_INVALID_OPTION' }, `close code ${code}`)
  }
  t.throws(() => client.close(1000, 'x'.repeat(124)), { code: 'FST_ERR_WS_INVALID_OPTION' })
  t.equal(client.readyState, WebSocketClient.CONNECTING, 'a rejected close() changes nothing')
  t.equal(new URL(client.url).pathname, '/chat/bongo')
  const fromUrl = new WebSocketClient(new URL(server.url), { reconnect: false })
  t.equal(fromUrl.url, server.url)
  await fromUrl.close()
})

t.test('a server that accepts and then closes at once keeps the delays growing until a connection stays up', async (t) => {
  const server = await startServer(t)
  let flapping = true
  // Accept, then close as a restarting or overloaded server does (1011 from a throwing connected handler, 1001, 1006).
  server.wss.on('connection', (socket) => { if (flapping) socket.close(1011, 'boom') })
  const { client, events } = connect(t, server.url, { reconnect: { initialDelay: 5, factor: 2, maxDelay: 1000, jitter: 0, resetAfter: 200 } })
  await waitFor(() => events.reconnecting.length >= 5, 'five reconnections')
  t.same(events.reconnecting.slice(0, 5).map((event) => [event.attempt, event.delay]), [[1, 5], [2, 10], [3, 20], [4, 40], [5, 80]],
    'each open that did not last counts as a failed attempt')
  flapping = false
  await next(client, 'open')
  const count = events.reconnecting.length
  await new Promise((resolve) => setTimeout(resolve, 250))
  ;(server.sockets.at(-1) as WebSocket).close(1001)
  await waitFor(() => events.reconnecting.length > count, 'a new attempt')
  t.same(events.reconnecting[count], { attempt: 1, delay: 5 }, 'a connection that stayed up resetAfter ms starts the backoff over')
})

t.test('Retry-After on 429 and 503 is honoured: the next attempt waits at least that long', async (t) => {
  let answers = 0
  const http = createServer((_request, response) => { response.end() })
  http.on('upgrade', (_request, socket) => {
    answers++
    // Seconds on the first refusal, an HTTP date on the second.
    const retryAfter = answers === 1 ? '1' : new Date(Date.now() + 2000).toUTCString()
    socket.end(`HTTP/1.1 ${answers === 1 ? '429 Too Many Requests' : '503 Service Unavailable'}\r\nRetry-After: ${retryAfter}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
  })
  http.listen(0, '127.0.0.1')
  await once(http, 'listening')
  t.teardown(() => { http.close() })
  const { port } = http.address() as AddressInfo
  const { client, events } = connect(t, `ws://127.0.0.1:${port}/`, { reconnect: { initialDelay: 5, jitter: 0, maxRetries: 2 } })
  await waitFor(() => events.reconnecting.length >= 2, 'two refusals')
  const [first, second] = events.reconnecting
  t.equal(first?.delay, 1000, '429 with Retry-After: 1 waits a second, not 5 ms')
  t.ok((second?.delay ?? 0) > 1000 && (second?.delay ?? 0) <= 2000, `503 with a date two seconds ahead waits until then (${second?.delay} ms)`)
  t.match(events.errors, [{ statusCode: 429 }, { statusCode: 503 }])
  await client.close()
})

t.test('retryAfterDelay reads seconds and dates, and caps what it honours', async (t) => {
  const now = Date.parse('2026-12-05T00:00:00Z')
  t.equal(retryAfterDelay('120', now), 120_000)
  t.equal(retryAfterDelay(' 0 ', now), 0)
  t.equal(retryAfterDelay('Sat, 05 Dec 2026 00:00:30 GMT', now), 30_000)
  t.equal(retryAfterDelay('Fri, 04 Dec 2026 00:00:00 GMT', now), 0, 'a date in the past: no wait')
  t.equal(retryAfterDelay('999999', now), MAX_RETRY_AFTER, 'at most an hour')
  t.equal(retryAfterDelay('soon', now), undefined)
  t.equal(retryAfterDelay(undefined, now), undefined)
})

t.test('messages over maxPayload (1 MiB by default, as the server\'s) close the connection with 1009, without reconnecting', async (t) => {
  const server = await startServer(t)
  server.wss.on('connection', (socket) => { socket.send(Buffer.alloc(2 * 1024 * 1024, 120).toString()) })
  const { client, events } = connect(t, server.url, { reconnect: fast })
  const closed = await next(client, 'close')
  t.match(closed, { code: 1009, reconnecting: false })
  t.same(events.messages, [], 'the big message was not delivered')
  const { client: roomy, events: roomyEvents } = connect(t, server.url, { reconnect: fast, maxPayload: 4 * 1024 * 1024 })
  await next(roomy, 'message')
  t.equal((roomyEvents.messages[0]?.data as string).length, 2 * 1024 * 1024, 'a larger maxPayload lets it through')
  t.throws(() => new WebSocketClient(server.url, { maxPayload: 0 }), { code: 'FST_ERR_WS_INVALID_OPTION', message: /maxPayload/ })
})
