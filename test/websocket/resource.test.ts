import { test, type Test } from 'tap'
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import websocket, { CloseCode, type ResourceClient } from '../../plugins/websocket.js'
import { heartbeatTimerCount } from '../../src/heartbeat.js'
import { gate, listen, logCapture, waitFor, within } from '../helpers.js'
import { connect, upgradeResponse, wsUrl } from './helpers.js'

async function appWith (register: Parameters<typeof websocket>[1] = {}) {
  const logs = logCapture()
  const app = Fastify({ logger: { level: 'info', stream: logs.stream } })
  await app.register(websocket, register)
  return { app, logs }
}

test('connected, message and disconnected run once each, in order, with no message lost during an async connected', async (t) => {
  const { app } = await appWith()
  const calls: string[] = []
  const { opened: connectedDone, open: release } = gate()
  app.resource('/room', {
    connected: async (client) => { calls.push('connected'); await connectedDone; client.send('ready') },
    message: (client, text) => { calls.push(`message ${text}`); client.send(`echo ${text}`) },
    disconnected: (client, code, reason) => { calls.push(`disconnected ${code} ${reason}`) }
  })
  const base = await listen(app)
  t.teardown(() => app.close())
  const client = await connect(wsUrl(base, '/room'))
  for (const text of ['1', '2', '3']) client.socket.send(text)
  await waitFor(() => calls.length === 1, 'connected')
  release()
  t.equal(await client.message(3), 'echo 3')
  t.same(client.messages, ['ready', 'echo 1', 'echo 2', 'echo 3'])
  client.socket.close(4001, 'bye')
  await waitFor(() => calls.length === 5, 'disconnected')
  t.same(calls, ['connected', 'message 1', 'message 2', 'message 3', 'disconnected 4001 bye'])
})

test('messages from one client are handled one at a time, in order, even when handlers are async', async (t) => {
  const { app } = await appWith()
  const order: string[] = []
  let running = 0
  let overlap = false
  app.resource('/serial', {
    message: async (client, text) => {
      running++
      if (running > 1) overlap = true
      // The first message waits longest: a concurrent dispatcher would finish it last.
      await new Promise((resolve) => setTimeout(resolve, text === 'a' ? 30 : 1))
      order.push(text)
      running--
      client.send(text)
    }
  })
  const base = await listen(app)
  t.teardown(() => app.close())
  const client = await connect(wsUrl(base, '/serial'))
  for (const text of ['a', 'b', 'c', 'd']) client.socket.send(text)
  await client.message(3)
  t.same(order, ['a', 'b', 'c', 'd'])
  t.equal(overlap, false)
  client.socket.close()
})

test('fragmented messages are rejoined, and a text then a binary message keep their own types', async (t) => {
  const { app } = await appWith()
  const received: Array<[string, string]> = []
  app.resource('/frames', {
    message: (client, text) => { received.push(['text', text]) },
    binary: (client, data) => { received.push(['binary', data.toString('hex')]); client.send(data) }
  })
  const base = await listen(app)
  t.teardown(() => app.close())
  const client = await connect(wsUrl(base, '/frames'))
  client.socket.send('hel', { fin: false })
  client.socket.send('lo', { fin: true })
  client.socket.send(Buffer.from([1, 2]), { binary: true, fin: false })
  client.socket.send(Buffer.from([3]), { binary: true, fin: true })
  // Hunchensocket bug #13: a binary message right after a text one was delivered as text.
  client.socket.send('text')
  client.socket.send(Buffer.from([0xff, 0x00]), { binary: true })
  const echoed = await client.message(1)
  t.same(received, [['text', 'hello'], ['binary', '010203'], ['text', 'text'], ['binary', 'ff00']])
  t.ok(Buffer.isBuffer(echoed))
  t.same([...(echoed as Buffer)], [0xff, 0x00])
  client.socket.close()
})

test('close codes: 1003 for binary without a handler, 1009 over the limit, 1007 for invalid UTF-8', async (t) => {
  const { app, logs } = await appWith({ maxPayload: 1024 })
  app.resource('/text-only', { message: () => {} })
  app.resource('/small', { maxPayload: 16, message: () => {}, binary: () => {} })
  const base = await listen(app)
  t.teardown(() => app.close())

  const binary = await connect(wsUrl(base, '/text-only'))
  binary.socket.send(Buffer.from([1]), { binary: true })
  t.equal((await binary.closed).code, CloseCode.UNSUPPORTED_DATA)

  // The plugin-wide limit is ws's own maxPayload.
  const big = await connect(wsUrl(base, '/text-only'))
  big.socket.send('x'.repeat(1025))
  t.equal((await big.closed).code, CloseCode.MESSAGE_TOO_BIG)

  // A resource may set a smaller limit than the plugin's.
  const small = await connect(wsUrl(base, '/small'))
  small.socket.send(Buffer.alloc(17), { binary: true })
  const smallClosed = await small.closed
  t.equal(smallClosed.code, CloseCode.MESSAGE_TOO_BIG)
  t.match(smallClosed.reason, /17 bytes is over the limit of 16/)

  const utf8 = await connect(wsUrl(base, '/text-only'))
  utf8.socket.send(Buffer.from([0xc3, 0x28]), { binary: false })
  t.equal((await utf8.closed).code, CloseCode.INVALID_PAYLOAD)

  await waitFor(() => logs.lines.filter((line) => line.msg === 'websocket client error').length >= 3, 'log lines')
  const clientErrors = logs.lines.filter((line) => line.msg === 'websocket client error')
  t.ok(clientErrors.every((line) => line.level === 30), 'client mistakes are logged at info, like 4xx')
  t.ok(clientErrors.some((line) => (line.err as { code?: string }).code === 'FST_ERR_WS_UNSUPPORTED_DATA'))
  t.notOk(logs.lines.some((line) => (line.level as number) >= 50), 'no error-level line for client mistakes')
})

test('a schema types and validates JSON messages: 1008 by default, an error reply by option', async (t) => {
  const { app } = await appWith()
  const said: string[] = []
  const Say = Type.Object({ type: Type.Literal('say'), text: Type.String({ maxLength: 20 }) })
  app.resource('/strict', { schema: Say, message: (client, message) => { said.push(message.text) } })
  app.resource('/lenient', { schema: Say, invalidMessage: 'reply', message: (client, message) => { said.push(message.text); client.send('ok') } })
  const base = await listen(app)
  t.teardown(() => app.close())

  const strict = await connect(wsUrl(base, '/strict'))
  strict.socket.send(JSON.stringify({ type: 'say', text: 'hi' }))
  // (Fastify's Ajv coerces 42 to '42', as it does for bodies; an object cannot be coerced.)
  strict.socket.send(JSON.stringify({ type: 'say', text: { long: 'no' } }))
  const closed = await strict.closed
  t.equal(closed.code, CloseCode.POLICY_VIOLATION)
  t.match(closed.reason, /message\/text must be string/)

  const notJson = await connect(wsUrl(base, '/strict'))
  notJson.socket.send('{oops')
  t.equal((await notJson.closed).code, CloseCode.POLICY_VIOLATION)

  const poisoned = await connect(wsUrl(base, '/strict'))
  poisoned.socket.send('{"type":"say","text":"x","__proto__":{"polluted":true}}')
  t.equal((await poisoned.closed).code, CloseCode.POLICY_VIOLATION)

  const lenient = await connect(wsUrl(base, '/lenient'))
  lenient.socket.send(JSON.stringify({ type: 'shout' }))
  lenient.socket.send(JSON.stringify({ type: 'say', text: 'still here' }))
  const reply = JSON.parse(String(await lenient.message(0)))
  t.equal(reply.error.code, 'FST_ERR_WS_INVALID_MESSAGE')
  t.equal(reply.error.statusCode, 400)
  t.equal(await lenient.message(1), 'ok')
  t.same(said, ['hi', 'still here'])
  lenient.socket.close()
})

test('a throwing handler closes its client with 1011 and logs through request.log; other clients go on', async (t) => {
  const { app, logs } = await appWith()
  app.resource('/fragile', {
    message: (client, text) => {
      if (text === 'boom') throw new Error('handler broke')
      client.resource.broadcast(text)
    }
  })
  const base = await listen(app)
  t.teardown(() => app.close())
  const bad = await connect(wsUrl(base, '/fragile'))
  const good = await connect(wsUrl(base, '/fragile'))
  bad.socket.send('boom')
  t.equal((await bad.closed).code, CloseCode.INTERNAL_ERROR)
  good.socket.send('fine')
  t.equal(await good.message(0), 'fine')
  const line = logs.lines.find((entry) => entry.msg === 'websocket handler error')
  t.ok(line, 'logged')
  t.equal(line?.level, 50)
  t.equal((line?.err as { message: string }).message, 'handler broke')
  t.ok(line?.reqId, 'the line carries the request id of the upgrade')
  good.socket.close()
})

test('disconnected runs exactly once when connected throws, and when the client leaves during an async connected', async (t) => {
  const { app } = await appWith()
  const events: string[] = []
  const { opened: slow, open: release } = gate()
  app.resource('/throws', {
    connected: () => { throw new Error('no') },
    disconnected: (client, code) => { events.push(`throws ${code}`) }
  })
  app.resource('/slow', {
    connected: async () => { await slow; events.push('slow connected') },
    disconnected: (client, code) => { events.push(`slow ${code}`) }
  })
  const base = await listen(app)
  t.teardown(() => app.close())
  const throws = await connect(wsUrl(base, '/throws'))
  t.equal((await throws.closed).code, CloseCode.INTERNAL_ERROR)
  const leaving = await connect(wsUrl(base, '/slow'))
  leaving.socket.close(4000)
  await leaving.closed
  release()
  await waitFor(() => events.length === 3, 'disconnected')
  t.same(events, ['throws 1011', 'slow connected', 'slow 4000'])
})

test('resources: resolve names the instance (404 before the upgrade when it refuses), instances go when empty', async (t) => {
  const { app } = await appWith()
  const rooms = new Set(['bongo', 'fury'])
  const chat = app.resource('/chat/:room', {
    resolve: (request) => {
      const room = (request.params as { room: string }).room
      return rooms.has(room) ? room : undefined
    },
    message: (client, text) => { client.resource.broadcast(`${client.resource.name}: ${text}`) }
  })
  const base = await listen(app)
  t.teardown(() => app.close())
  const refused = await upgradeResponse(`${base}/chat/nowhere`)
  t.equal(refused.status, 404)
  t.equal(JSON.parse(refused.body).code, 'FST_ERR_WS_RESOURCE_NOT_FOUND')
  t.equal((await fetch(`${base}/chat/nowhere`)).status, 404, 'a plain GET of an unknown room is a 404 too')
  t.equal((await fetch(`${base}/chat/bongo`)).status, 426)

  const a = await connect(wsUrl(base, '/chat/bongo'))
  const b = await connect(wsUrl(base, '/chat/bongo'))
  const c = await connect(wsUrl(base, '/chat/fury'))
  t.same([...chat.instances.keys()].sort(), ['bongo', 'fury'])
  t.equal(chat.get('bongo')?.clients.size, 2)
  a.socket.send('hello')
  t.equal(await b.message(0), 'bongo: hello')
  t.equal(await a.message(0), 'bongo: hello')
  c.socket.close()
  await c.closed
  await waitFor(() => chat.get('fury') === undefined, 'empty instance dropped')
  a.socket.close()
  b.socket.close()
  await waitFor(() => chat.instances.size === 0, 'all instances dropped')
})

test('a plain GET on a resource answers 426; auth in Fastify hooks answers 401 as real HTTP before the upgrade', async (t) => {
  const { app } = await appWith()
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith('/private') && request.headers.authorization !== 'Bearer ok') {
      await reply.code(401).send({ error: 'unauthorized' })
    }
  })
  app.resource('/private', { connected: (client) => { client.send(`hi ${client.request.headers.authorization ?? ''}`) } })
  app.resource('/admin', {
    route: { onRequest: async (request, reply) => { await reply.code(403).send({ error: 'forbidden' }) } },
    connected: () => {}
  })
  const base = await listen(app)
  t.teardown(() => app.close())
  const plain = await fetch(`${base}/private`, { headers: { authorization: 'Bearer ok' } })
  t.equal(plain.status, 426)
  t.equal(plain.headers.get('upgrade'), 'websocket', 'a 426 names the protocol (RFC 9110)')
  t.equal(((await plain.json()) as { code: string }).code, 'FST_ERR_WS_UPGRADE_REQUIRED')
  t.equal((await upgradeResponse(`${base}/private`)).status, 401)
  t.equal((await upgradeResponse(`${base}/admin`)).status, 403)
  const allowed = await connect(wsUrl(base, '/private'), undefined, { headers: { authorization: 'Bearer ok' } })
  t.equal(await allowed.message(0), 'hi Bearer ok')
  allowed.socket.close()
})

test('route.schema validates the upgrade\'s querystring before the 101', async (t) => {
  const { app } = await appWith()
  app.resource('/named', {
    route: { schema: { querystring: Type.Object({ name: Type.String({ minLength: 1, maxLength: 8 }) }) } },
    connected: (client) => { client.send(`hi ${(client.request.query as { name: string }).name}`) }
  })
  const base = await listen(app)
  t.teardown(() => app.close())
  const refused = await upgradeResponse(`${base}/named?name=far-too-long-a-name`)
  t.equal(refused.status, 400)
  t.equal(JSON.parse(refused.body).code, 'FST_ERR_VALIDATION')
  const named = await connect(wsUrl(base, '/named?name=ann'))
  t.equal(await named.message(0), 'hi ann')
  named.socket.close()
})

test('Origin: same-origin by default, cross-origin refused with 403; a list or false by option', async (t) => {
  const { app } = await appWith()
  app.resource('/default', { connected: (client) => { client.send('in') } })
  app.resource('/listed', { origins: ['https://app.example.com'], connected: (client) => { client.send('in') } })
  app.resource('/open', { origins: false, connected: (client) => { client.send('in') } })
  const base = await listen(app)
  t.teardown(() => app.close())
  const host = new URL(base).host
  const crossSite = await upgradeResponse(`${base}/default`, { origin: 'https://evil.example' })
  t.equal(crossSite.status, 403)
  t.equal(JSON.parse(crossSite.body).code, 'FST_ERR_WS_ORIGIN_FORBIDDEN')
  t.equal((await upgradeResponse(`${base}/default`, { origin: `http://${host}` })).status, 101)
  t.equal((await upgradeResponse(`${base}/default`, { origin: `https://${host}` })).status, 403, 'the scheme counts: an https page, a plain ws:// upgrade')
  t.equal((await upgradeResponse(`${base}/default`)).status, 101, 'no Origin: not a browser')
  t.equal((await upgradeResponse(`${base}/listed`, { origin: 'https://app.example.com' })).status, 101)
  t.equal((await upgradeResponse(`${base}/listed`, { origin: `http://${host}` })).status, 403)
  t.equal((await upgradeResponse(`${base}/open`, { origin: 'https://anywhere.example' })).status, 101)
})

test('subprotocols: the server picks by its own preference, never blindly the first offered', async (t) => {
  const { app } = await appWith()
  app.resource('/proto', { protocols: ['chat.v2', 'chat.v1'], connected: (client) => { client.send(client.protocol) } })
  app.resource('/none', { connected: (client) => { client.send(`[${client.protocol}]`) } })
  const base = await listen(app)
  t.teardown(() => app.close())
  const preferred = await connect(wsUrl(base, '/proto'), ['chat.v1', 'chat.v2'])
  t.equal(preferred.socket.protocol, 'chat.v2')
  t.equal(await preferred.message(0), 'chat.v2')
  const unsupported = await upgradeResponse(`${base}/proto`, { 'sec-websocket-protocol': 'mqtt, chat.v0' })
  t.equal(unsupported.status, 400)
  t.equal(JSON.parse(unsupported.body).code, 'FST_ERR_WS_UNSUPPORTED_PROTOCOL')
  t.equal((await upgradeResponse(`${base}/none`, { 'sec-websocket-protocol': 'anything' })).status, 400)
  const plain = await connect(wsUrl(base, '/none'))
  t.equal(await plain.message(0), '[]')
  preferred.socket.close()
  plain.socket.close()
})

test('clients: send text, JSON and binary; request, typed data, broadcast with except and filter', async (t) => {
  const { app } = await appWith()
  const room = app.resource<{ name: string }>('/people', {
    data: (request) => ({ name: (request.query as { name?: string }).name ?? 'anon' }),
    connected: (client) => { client.resource.broadcast({ joined: client.data.name }, { except: client }) },
    message: (client, text) => {
      if (text === 'bytes') client.send(new Uint8Array([7, 8]))
      else client.resource.broadcast(`${client.data.name}: ${text}`, { filter: (other) => other.data.name !== 'mallory' })
    }
  })
  const base = await listen(app)
  t.teardown(() => app.close())
  const alice = await connect(wsUrl(base, '/people?name=alice'))
  await waitFor(() => room.get('/people')?.clients.size === 1, 'alice in')
  const bob = await connect(wsUrl(base, '/people?name=bob'))
  const mallory = await connect(wsUrl(base, '/people?name=mallory'))
  t.same(JSON.parse(String(await alice.message(0))), { joined: 'bob' })
  t.same(JSON.parse(String(await alice.message(1))), { joined: 'mallory' })
  t.same(JSON.parse(String(await bob.message(0))), { joined: 'mallory' })
  bob.socket.send('hi')
  t.equal(await alice.message(2), 'bob: hi')
  t.equal(await bob.message(1), 'bob: hi')
  bob.socket.send('bytes')
  t.same([...(await bob.message(2) as Buffer)], [7, 8])
  t.equal(mallory.messages.length, 0, 'the filter kept mallory out and except kept her own join from her')
  for (const client of [alice, bob, mallory]) client.socket.close()
})

test('heartbeat: a peer that does not answer pings is terminated, one that does stays; no timer is left', async (t) => {
  const { app, logs } = await appWith({ heartbeat: 40 })
  const codes: number[] = []
  const route = app.resource('/beat', { disconnected: (client, code) => { codes.push(code) } })
  const base = await listen(app)
  t.teardown(() => app.close())
  const before = heartbeatTimerCount()
  const silent = await connect(wsUrl(base, '/beat'), undefined, { autoPong: false })
  const alive = await connect(wsUrl(base, '/beat'))
  t.equal(heartbeatTimerCount(), before + 1, 'one shared timer for the interval')
  const closed = await silent.closed
  t.equal(closed.code, 1006, 'terminated, no closing handshake')
  await waitFor(() => codes.length === 1, 'disconnected')
  t.equal(alive.socket.readyState, alive.socket.OPEN)
  t.same(codes, [1006])
  t.ok(logs.lines.some((line) => line.msg === 'websocket client dropped' && (line.err as { code?: string }).code === 'FST_ERR_WS_HEARTBEAT_TIMEOUT'))
  t.equal(route.get('/beat')?.clients.size, 1)
  alive.socket.close()
  await alive.closed
  await waitFor(() => heartbeatTimerCount() === before, 'heartbeat timer stopped with its last client')
})

/** A /feed room with a client that stops reading (its kernel buffers fill, then the server's) and one that reads. */
async function stalledAndReader (t: Test, register: Parameters<typeof websocket>[1], overflow?: 'close' | 'drop-oldest') {
  const { app, logs } = await appWith(register)
  let stalledClient: ResourceClient | undefined
  const route = app.resource('/feed', {
    overflow,
    connected: (client) => { if (client.request.headers['x-role'] === 'stalled') stalledClient = client }
  })
  const base = await listen(app)
  t.teardown(() => app.close())
  const stalled = await connect(wsUrl(base, '/feed'), undefined, { headers: { 'x-role': 'stalled' } })
  ;(stalled.socket as unknown as { _socket: { pause: () => void } })._socket.pause()
  const reader = await connect(wsUrl(base, '/feed'))
  await waitFor(() => stalledClient !== undefined && route.get('/feed')?.clients.size === 2, 'both in')
  return { logs, route, stalled, stalledClient: stalledClient as ResourceClient, reader }
}

test('backpressure: a stalled reader is closed (or drops oldest) while the others receive everything', async (t) => {
  for (const overflow of ['close', 'drop-oldest'] as const) {
    await t.test(overflow, async (t) => {
      const { logs, route, stalled, stalledClient, reader } = await stalledAndReader(t, { maxBufferedBytes: 64 * 1024, stallTimeout: 60_000, heartbeat: false }, overflow)
      const chunk = 'x'.repeat(16 * 1024)
      const total = 400
      let maxBuffered = 0
      for (let i = 0; i < total; i++) {
        route.get('/feed')?.broadcast(`${i} ${chunk}`)
        maxBuffered = Math.max(maxBuffered, stalledClient!.bufferedAmount)
        // Let the sockets move (a real feed has gaps between events).
        if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
      // Bursts of 20 × 16 KiB stay under the hard bound (16 soft bounds, 1 MiB): the reader is never cut short.
      await within(reader.message(total - 1), 20_000, 'the reader gets every message')
      t.equal(reader.messages.length, total, 'the reading client got every message')
      t.ok(maxBuffered <= 1024 * 1024 + chunk.length + 16, `the stalled client never held more than its hard bound (${maxBuffered})`)
      if (overflow === 'close') {
        await waitFor(() => stalledClient!.isClosed, 'stalled client closed')
        t.equal(stalledClient!.closeError?.message, 'Closed a WebSocket client that fell more than 1048576 bytes behind (the hard bound)')
        t.ok(logs.lines.some((line) => line.msg === 'websocket client dropped' && line.level === 40))
      } else {
        t.equal(stalledClient!.isClosed, false, 'drop-oldest keeps the client')
        ;(stalled.socket as unknown as { _socket: { resume: () => void } })._socket.resume()
        await waitFor(() => stalled.messages.length > 0 && String(stalled.messages.at(-1)).startsWith(`${total - 1} `), 'the newest message arrives')
        t.ok(stalled.messages.length < total, `older messages were dropped (${stalled.messages.length} of ${total} arrived)`)
        const indexes = stalled.messages.map((message) => Number(String(message).split(' ')[0]))
        t.same(indexes, [...indexes].sort((a, b) => a - b), 'what arrives is in order')
      }
      reader.socket.close()
      stalled.socket.terminate()
    })
  }
})

test('a client above the soft bound for the stall time is closed; one that reads bursts is not', async (t) => {
  const { logs, route, stalledClient, reader } = await stalledAndReader(t, { maxBufferedBytes: 64 * 1024, stallTimeout: 300, heartbeat: false })
  const chunk = 'b'.repeat(64 * 1024)
  let sent = 0
  // Bursts of 8 × 64 KiB (8 soft bounds at once, half the hard bound), each read whole by the reader, while
  // the stalled client holds less than the soft bound here (its kernel buffers take tens of MiB first);
  // then nothing more, so only the stall clock can let it go. Bounded: 2000 rounds.
  for (let round = 0; round < 2000 && !stalledClient!.isClosed; round++) {
    if (stalledClient!.bufferedAmount <= 64 * 1024) {
      for (let i = 0; i < 8; i++) route.get('/feed')?.broadcast(`${sent++} ${chunk}`)
      await within(reader.message(sent - 1), 10_000, 'the reader reads the burst')
    } else {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  await waitFor(() => stalledClient!.isClosed, 'the stalled client closed')
  t.match(stalledClient!.closeError, { code: 'FST_ERR_WS_STALLED' })
  t.equal(reader.messages.length, sent, 'the reader got every message')
  t.equal(route.get('/feed')?.clients.size, 1)
  t.ok(logs.lines.some((line) => line.msg === 'websocket client dropped' && (line.err as { code?: string }).code === 'FST_ERR_WS_STALLED'))
  reader.socket.close()
})

test('app.close() closes every client with 1001 promptly and releases timers', async (t) => {
  const { app } = await appWith({ heartbeat: 60_000 })
  const disconnected: number[] = []
  app.resource('/room/:id', { disconnected: (client, code) => { disconnected.push(code) } })
  const base = await listen(app)
  const clients = await Promise.all([1, 2, 3].map((id) => connect(wsUrl(base, `/room/${id}`))))
  const before = heartbeatTimerCount()
  t.ok(before >= 1)
  await app.close()
  for (const client of clients) t.same(await client.closed, { code: CloseCode.GOING_AWAY, reason: 'Server shutting down' })
  t.same(disconnected, [1001, 1001, 1001])
  t.equal(heartbeatTimerCount(), before - 1, 'the interval timer stopped')
})

test('app.close() terminates a client that never answers the close frame, after closeTimeout', async (t) => {
  const { app } = await appWith({ closeTimeout: 50, heartbeat: false })
  const codes: number[] = []
  app.resource('/stuck', { disconnected: (client, code) => { codes.push(code) } })
  const base = await listen(app)
  const stuck = await connect(wsUrl(base, '/stuck'))
  ;(stuck.socket as unknown as { _socket: { pause: () => void } })._socket.pause()
  await app.close()
  t.same(codes, [1001], 'the code the server closed with')
  stuck.socket.terminate()
})

test('an @fastify/websocket registered beforehand is used as is', async (t) => {
  const app = Fastify()
  const fastifyWebsocket = (await import('@fastify/websocket')).default
  await app.register(fastifyWebsocket)
  await app.register(websocket)
  app.get('/plain', { websocket: true }, (socket) => { socket.send('plain route') })
  app.resource('/res', { connected: (client) => { client.send('resource') } })
  const base = await listen(app)
  t.teardown(() => app.close())
  const plain = await connect(wsUrl(base, '/plain'), ['first', 'second'])
  t.equal(plain.socket.protocol, 'first', 'routes that are not resources keep ws\'s own choice')
  t.equal(await plain.message(0), 'plain route')
  const resource = await connect(wsUrl(base, '/res'))
  t.equal(await resource.message(0), 'resource')
  plain.socket.close()
  resource.socket.close()
})

test('options are validated when the plugin is registered and when a resource is declared', async (t) => {
  await t.rejects(async () => { await Fastify().register(websocket, { heartbeat: -1 }) }, { code: 'FST_ERR_WS_INVALID_OPTION' })
  await t.rejects(async () => { await Fastify().register(websocket, { closeTimeout: 1.5 }) }, { code: 'FST_ERR_WS_INVALID_OPTION' })
  const ok = Fastify()
  await ok.register(websocket)
  t.throws(() => ok.resource('/a', { overflow: 'never' as 'close' }), { code: 'FST_ERR_WS_INVALID_OPTION' })
  t.throws(() => ok.resource('/b', { origins: ['not a url'] }), { code: 'FST_ERR_WS_INVALID_OPTION' })
  t.throws(() => ok.resource('/c', { protocols: ['has space'] }), { code: 'FST_ERR_WS_INVALID_OPTION' })
  await ok.close()
})

test('injectWS reaches a resource without a listening server', async (t) => {
  const { app } = await appWith()
  app.resource('/echo', { message: (client, text) => { client.send(text.toUpperCase()) } })
  await app.ready()
  t.teardown(() => app.close())
  const socket = await app.injectWS('/echo')
  const reply = new Promise<string>((resolve) => { socket.once('message', (data) => { resolve(String(data)) }) })
  socket.send('shout')
  t.equal(await reply, 'SHOUT')
  socket.terminate()
})

test('a connected client keeps its request, not the upgrade\'s reply, response, first packet or header name copies', async (t) => {
  const { app } = await appWith({ heartbeat: false })
  let request: import('fastify').FastifyRequest | undefined
  let rawHeadersInData: string[] = []
  app.resource('/lean', {
    data: (upgrade) => { rawHeadersInData = [...upgrade.raw.rawHeaders]; return {} },
    connected: (client) => { request = client.request }
  })
  const base = await listen(app)
  t.teardown(() => app.close())
  const client = await connect(wsUrl(base, '/lean'), undefined, { headers: { 'X-Custom': 'kept' } })
  await waitFor(() => request !== undefined, 'connected')
  const [socket] = [...app.websocketServer.clients]
  t.equal(socket?.listenerCount('error'), 1, 'only the client\'s own error listener: @fastify/websocket\'s closure over the reply is gone')
  t.equal(socket?.listenerCount('pong'), 0, 'no pong listener without a heartbeat')
  t.ok(rawHeadersInData.includes('X-Custom'), 'data() sees the header names as they came')
  const rawHeaders = request!.raw.rawHeaders
  t.same(rawHeaders, rawHeadersInData.map((item, i) => i % 2 === 0 ? item.toLowerCase() : item), 'afterwards every name and value stays, in order, the names lowercased')
  const keys = Object.keys(request!.headers)
  t.ok(rawHeaders.filter((_, i) => i % 2 === 0).every((name) => keys.includes(name)), 'each name is a key of the parsed headers')
  t.same(request!.raw.headersDistinct['x-custom'], ['kept'], 'headersDistinct still reads the list')
  t.equal(request!.headers['x-custom'], 'kept')
  t.same(Object.getOwnPropertySymbols(request!.raw).filter((symbol) => symbol.description?.startsWith('fastify-datastar')), [], 'nothing of ours is left on the raw request')
  const tcp = request!.raw.socket as unknown as { _httpMessage: unknown }
  t.equal(tcp._httpMessage, null, 'the upgrade\'s ServerResponse is detached from the TCP socket')
  const head = Object.getOwnPropertySymbols(request!.raw).find((symbol) => symbol.description === 'ws-head')
  t.ok(head, '@fastify/websocket still names the head slot this way')
  t.equal((request!.raw as unknown as Record<symbol, unknown>)[head!], undefined, 'the head Buffer is released')
  t.equal(request!.headers.host, new URL(base).host, 'the request stays usable')
  client.socket.close()
})

test('a validator that throws closes that client with 1011 and is logged; the process goes on', async (t) => {
  const { app, logs } = await appWith()
  app.setValidatorCompiler(() => () => { throw new Error('validator broke') })
  app.resource('/validated', { schema: Type.Object({ n: Type.Number() }), message: () => {} })
  const base = await listen(app)
  t.teardown(() => app.close())
  const client = await connect(wsUrl(base, '/validated'))
  client.socket.send('{"n":1}')
  t.equal((await client.closed).code, CloseCode.INTERNAL_ERROR)
  await waitFor(() => logs.lines.some((line) => line.msg === 'websocket handler error'), 'logged')
  t.throws(() => app.resource('/async', { schema: { $async: true, type: 'object' } as never }), { code: 'FST_ERR_WS_INVALID_OPTION' }, 'asynchronous schemas are refused when declared')
})

test('while messages are held the input waits; a server close still completes, and the heartbeat spares it', async (t) => {
  const { app } = await appWith({ heartbeat: 20 })
  const { opened: held, open: release } = gate()
  const { opened: heldForever, open: releaseForever } = gate()
  const handled: string[] = []
  let server: ResourceClient | undefined
  app.resource('/held', {
    connected: async (client) => { server = client; await held },
    message: (client, text) => { handled.push(text) }
  })
  app.resource('/held-forever', { connected: async (client) => { server = client; await heldForever }, message: () => {} })
  const base = await listen(app)
  t.teardown(async () => {
    releaseForever()
    await app.close()
  })
  const client = await connect(wsUrl(base, '/held'))
  for (let i = 0; i < 100; i++) client.socket.send(String(i))
  // Several heartbeat intervals pass while the client's messages wait behind `connected`.
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(server?.isClosed, false, 'not terminated as silent while held')
  release()
  await waitFor(() => handled.length === 100, 'every held message handled')
  t.same(handled, Array.from({ length: 100 }, (_, i) => String(i)), 'in order')
  client.socket.close()

  const other = await connect(wsUrl(base, '/held-forever'))
  for (let i = 0; i < 100; i++) other.socket.send(String(i))
  await new Promise((resolve) => setTimeout(resolve, 50))
  server!.close(4000, 'bye')
  t.same(await within(other.closed, 5000, 'the closing handshake of a held client'), { code: 4000, reason: 'bye' })
})

test('disconnected waits for a message handler still running', async (t) => {
  const { app } = await appWith()
  const events: string[] = []
  const { opened: slow, open: finish } = gate()
  app.resource('/busy', {
    message: async () => { events.push('message start'); await slow; events.push('message end') },
    disconnected: () => { events.push('disconnected') }
  })
  const base = await listen(app)
  t.teardown(() => app.close())
  const client = await connect(wsUrl(base, '/busy'))
  client.socket.send('x')
  await waitFor(() => events.length === 1, 'handler started')
  client.socket.close()
  await client.closed
  await new Promise((resolve) => setTimeout(resolve, 20))
  finish()
  await waitFor(() => events.length === 3, 'disconnected')
  t.same(events, ['message start', 'message end', 'disconnected'])
})

test('close() refuses a code an endpoint may not send; long reasons are cut on a character', async (t) => {
  const { app } = await appWith()
  let server: ResourceClient | undefined
  app.resource('/codes', { connected: (client) => { server = client } })
  const base = await listen(app)
  t.teardown(() => app.close())
  const client = await connect(wsUrl(base, '/codes'))
  await waitFor(() => server !== undefined, 'connected')
  t.throws(() => server!.close(1006), { code: 'FST_ERR_WS_INVALID_OPTION' })
  t.equal(server!.isClosed, false, 'nothing happened')
  server!.close(4001, 'é'.repeat(100))
  const closed = await client.closed
  t.equal(closed.code, 4001)
  t.equal(closed.reason, 'é'.repeat(61), '122 bytes: the 62nd character would have been cut in half')
})

test('maxPayload: a resource cannot allow more than the WebSocket server reads; a laxer @fastify/websocket is warned about', async (t) => {
  const { app } = await appWith({ maxPayload: 1024 })
  t.throws(() => app.resource('/big', { maxPayload: 4096 }), { code: 'FST_ERR_WS_INVALID_OPTION' })
  await app.close()
  const logs = logCapture()
  const other = Fastify({ logger: { level: 'warn', stream: logs.stream } })
  await other.register((await import('@fastify/websocket')).default)
  await other.register(websocket)
  t.ok(logs.lines.some((line) => line.level === 40 && String(line.msg).includes('maxPayload')), 'warned that ws buffers up to its own 100 MiB')
  await other.close()
})

test('same-origin behind a proxy: trustProxy makes X-Forwarded-Proto and X-Forwarded-Host the origin to compare with', async (t) => {
  const app = Fastify({ trustProxy: true })
  await app.register(websocket)
  app.resource('/proxied', { connected: () => {} })
  const base = await listen(app)
  t.teardown(() => app.close())
  const proxied = { 'x-forwarded-host': 'public.example', 'x-forwarded-proto': 'https' }
  t.equal((await upgradeResponse(`${base}/proxied`, { origin: 'https://public.example', ...proxied })).status, 101)
  t.equal((await upgradeResponse(`${base}/proxied`, { origin: 'https://evil.example', ...proxied })).status, 403)
  t.equal((await upgradeResponse(`${base}/proxied`, { origin: 'https://public.example', 'x-forwarded-host': 'public.example' })).status, 403,
    'a proxy that does not say the scheme was https: the https page does not match a plain connection')
})

test('the app\'s own error listeners on a resource\'s sockets are kept', async (t) => {
  const { app } = await appWith()
  app.websocketServer.on('connection', (socket: import('ws').WebSocket) => { socket.on('error', () => {}) })
  let connected = false
  app.resource('/listened', { connected: () => { connected = true } })
  const base = await listen(app)
  t.teardown(() => app.close())
  const client = await connect(wsUrl(base, '/listened'))
  await waitFor(() => connected, 'connected')
  t.equal([...app.websocketServer.clients][0]?.listenerCount('error'), 2, 'the app\'s and the client\'s own; @fastify/websocket\'s went')
  client.socket.close()
})

test('app.close() waits for async disconnected handlers, within closeTimeout', async (t) => {
  const { app } = await appWith({ heartbeat: false, closeTimeout: 1000 })
  const saved: string[] = []
  let hung = false
  app.resource('/save', {
    disconnected: async (client) => {
      await new Promise((resolve) => setTimeout(resolve, 30))
      saved.push(`saved ${client.request.url}`)
    }
  })
  const base = await listen(app)
  await connect(wsUrl(base, '/save'))
  await app.close()
  t.same(saved, ['saved /save'], 'the handler finished before app.close() resolved')

  const { app: other } = await appWith({ heartbeat: false, closeTimeout: 50 })
  other.resource('/hang', { disconnected: async () => { hung = true; await new Promise(() => {}) } })
  const otherBase = await listen(other)
  await connect(wsUrl(otherBase, '/hang'))
  await within(other.close(), 5000, 'app.close() with a handler that never settles')
  t.ok(hung, 'a handler that never settles holds app.close() only until closeTimeout')
})

test('without data(), each client gets its own {} on first use; data may be replaced', async (t) => {
  const { app } = await appWith()
  const clients: ResourceClient[] = []
  app.resource('/plain-data', { connected: (client) => { clients.push(client) } })
  const base = await listen(app)
  t.teardown(() => app.close())
  const sockets = [await connect(wsUrl(base, '/plain-data')), await connect(wsUrl(base, '/plain-data'))]
  await waitFor(() => clients.length === 2, 'both connected')
  const [a, b] = clients as [ResourceClient, ResourceClient]
  a.data.seen = true
  t.same(b.data, {}, 'not shared')
  t.equal(a.data, a.data, 'the same object on every read')
  b.data = { replaced: 1 }
  t.same(b.data, { replaced: 1 })
  t.equal(a.protocol, '', 'no subprotocol')
  for (const socket of sockets) socket.socket.close()
})
