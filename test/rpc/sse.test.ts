/**
 * RPC without WebSocket: the page's client falls back to an SSE stream down
 * and POSTs up when the upgrade is refused; its wire, the same guards (origin,
 * auth hooks, body bound), coded 4xx answers, and resources released. The
 * guarantees under faults (cuts, duplicates, lost POSTs) are the test page's
 * tests, run on both transports (test/rpc/testing.test.ts).
 */
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { WebSocket } from 'ws'
import fastifyDatastar from '../../plugins/index.js'
import rpc, { RpcClient, RpcErrorCode, type ConnectOptions, type RpcPluginOptions, type Session } from '../../plugins/rpc.js'
import { EventParser } from '../../src/rpc/browser/sse-transport.js'
import { SSEParser } from '../../src/sse/parser.js'
import { listen, openStream, waitFor } from '../helpers.js'
import { pagesOf } from './pages.js'

/**
 * Upgrades answered 403, as a proxy that blocks WebSockets would. Added after
 * the plugin: a hook that answers an upgrade before @fastify/websocket's own
 * has seen it leaves the socket open, and app.close() waits for it.
 */
const refuseUpgrades = async (app: FastifyInstance): Promise<void> => {
  app.addHook('onRequest', async (request, reply) => {
    if (request.headers.upgrade?.toLowerCase() === 'websocket') await reply.code(403).send()
  })
}

async function rpcApp (t: Test, options: RpcPluginOptions = {}, hooks?: (app: FastifyInstance) => Promise<void>) {
  const app = Fastify()
  await app.register(rpc, { maxCallsPerSecond: 50, ...options })
  await hooks?.(app)
  let runs = 0
  const slowAdd = app.rpc.browserFunction('slowAdd', { params: Type.Tuple([Type.Number(), Type.Number()]), result: Type.Number() })
  const add = app.rpc.browserFunction('add', { params: Type.Tuple([Type.Number(), Type.Number()]), result: Type.Number() }, (a, b) => a + b)
  app.rpc.serverFunction('count', { params: Type.Tuple([]), result: Type.Number() }, () => ++runs)
  const base = await listen(app)
  return { app, base, add, slowAdd, open: pagesOf(t, app, base), runs: () => runs }
}

const HELLO = '{"t":"hello","v":1,"ack":0}'
const json = { 'content-type': 'application/json' }

t.test('an upgrade refused: the page falls back to the SSE transport by itself, visible on the session', async (t) => {
  const { app, add, open, runs } = await rpcApp(t, {}, refuseUpgrades)
  const { client } = await open()
  t.equal(client.transport, 'sse')
  const session = app.rpc.session(client.session as string) as Session
  t.equal(session.transport, 'sse')
  t.equal(await session.call(add, [1, 2]), 3)
  t.equal(await client.call('count'), 1)
  const entries = await app.rpc.callAll(add, [2, 2])
  t.same(entries.map((entry) => [entry.status, entry.value]), [['ok', 4]])
  t.equal(runs(), 1)
})

t.test('with upgrades allowed the page keeps its WebSocket', async (t) => {
  const { app, open } = await rpcApp(t)
  const { client } = await open()
  t.equal(client.transport, 'websocket')
  t.equal((app.rpc.session(client.session as string) as Session).transport, 'websocket')
})

t.test('transports: [\'sse\'] forces it; [\'websocket\'] alone does not fall back', async (t) => {
  const streams: string[] = []
  const { app, open, base } = await rpcApp(t, {}, async (app) => {
    await refuseUpgrades(app)
    app.addHook('onResponse', async (request) => { if (request.url.endsWith('/stream')) streams.push(request.url) })
  })
  const { client } = await open({ transports: ['sse'] })
  t.equal((app.rpc.session(client.session as string) as Session).transport, 'sse')
  streams.length = 0
  // WebSocket only, upgrades refused: no session however many attempts, and no request of the SSE transport.
  let attempts = 0
  const wsOnly = new RpcClient({
    url: `${base.replace('http', 'ws')}/rpc/socket`,
    sseUrl: `${base}/rpc/stream`,
    transports: ['websocket'],
    WebSocket: class extends WebSocket { constructor (url: string) { super(url); attempts++ } } as unknown as ConnectOptions['WebSocket'],
    reconnect: { initialDelay: 5, maxDelay: 10 }
  })
  let settled = false
  wsOnly.start().then(() => { settled = true }, () => { settled = true })
  t.teardown(() => { wsOnly.close() })
  await waitFor(() => attempts >= 3, 'three attempts')
  t.equal(settled, false, 'no connection without the fallback')
  t.same(streams, [], 'no stream asked for')
  t.equal([...app.rpc.sessions()].length, 1, 'only the SSE page has a session')
})

t.test('messages sent while a POST is in flight wait, and leave together in one POST', async (t) => {
  const posts: string[] = []
  const { open, runs } = await rpcApp(t, {}, async (app) => {
    app.addHook('onRequest', async (request) => { if (request.url.endsWith('/frames')) posts.push(request.url) })
  })
  const { client, faults } = await open({ transports: ['sse'] })
  posts.length = 0
  // The first call's POST is held on the way; the next 39, each made in a turn of its own, wait behind it.
  faults.hold()
  const calls: Array<Promise<unknown>> = []
  for (let index = 0; index < 40; index++) {
    calls.push(client.call('count'))
    await new Promise((resolve) => setImmediate(resolve))
  }
  faults.release()
  t.same(await Promise.all(calls), Array.from({ length: 40 }, (_, index) => index + 1), 'each once, in order')
  t.equal(runs(), 40)
  // The held one, the 39 in one batch, and at most the acks of the 40 results (32 at a time).
  t.ok(posts.length <= 4, `40 calls in ${posts.length} POSTs`)
})

t.test('the wire: the hello in a POST body, the welcome first with the connection\'s key, each message an event whose id is its highest frame number', async (t) => {
  const { app, base, add } = await rpcApp(t)
  const stream = await openStream(`${base}/rpc/stream`, { method: 'POST', headers: json, body: HELLO })
  t.teardown(() => { stream.destroy() })
  t.equal(stream.status, 200)
  t.match(stream.headers['content-type'], /^text\/event-stream/)
  const welcome = JSON.parse((await stream.event(0)).data) as { t: string, session: string, key: string, token: string }
  t.match(welcome, { t: 'welcome', resumed: false, ack: 0, key: /^[\w-]{43}$/ })
  const session = app.rpc.session(welcome.session) as Session
  t.equal(session.transport, 'sse')
  const answer = session.call(add, [1, 2])
  const call = await stream.event(1)
  t.equal(call.id, '1')
  t.match(JSON.parse(call.data), { s: 1, t: 'call', fn: 'add', args: [1, 2] })
  const posted = await fetch(`${base}/rpc/frames`, { method: 'POST', headers: { ...json, 'x-rpc-session': welcome.session, 'x-rpc-key': welcome.key }, body: '{"s":1,"a":1,"t":"result","id":1,"value":3}' })
  t.equal(posted.status, 204)
  t.equal(await answer, 3)
  // The page says bye: the server ends the session, a close event with the WebSocket's code, then the end.
  const posting = await fetch(`${base}/rpc/frames`, { method: 'POST', headers: { ...json, 'x-rpc-session': welcome.session, 'x-rpc-key': welcome.key }, body: '{"t":"bye"}' })
  t.equal(posting.status, 204)
  await stream.ended
  const close = stream.events.find((event) => event.event === 'close')
  t.same(JSON.parse(close?.data ?? '{}'), { code: 1000, reason: 'the page closed its session' })
  t.equal(app.rpc.session(welcome.session), undefined)
})

t.test('the stream is the project\'s own: compressed as the page accepts, keep-alive comments from the `sse` option, validated at startup', async (t) => {
  const { base } = await rpcApp(t, { sse: { keepAlive: 20 } })
  const stream = await openStream(`${base}/rpc/stream`, { method: 'POST', headers: { ...json, 'accept-encoding': 'gzip' }, body: HELLO, decode: true })
  t.teardown(() => { stream.destroy() })
  t.equal(stream.headers['content-encoding'], 'gzip')
  t.match(JSON.parse((await stream.event(0)).data), { t: 'welcome', key: /^[\w-]{43}$/ })
  await stream.comment(1)
  t.pass('a keep-alive comment')
  await t.rejects(async () => { await Fastify().register(rpc, { sse: { keepAlive: -1 } }).ready() }, { code: 'FST_ERR_SSE_INVALID_OPTION' })
})

t.test('the plugin\'s own reply.sse() stays in its context: the umbrella plugin registers after it', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(rpc)
  await app.register(fastifyDatastar)
  t.equal(app.hasReplyDecorator('sse'), true)
})

t.test('the resume token and the key travel in bodies and headers, never in a URL', async (t) => {
  const urls: string[] = []
  const { app, open } = await rpcApp(t, {}, async (app) => {
    app.addHook('onRequest', async (request) => { urls.push(request.url) })
  })
  const tokens: string[] = []
  const { client, faults } = await open({ transports: ['sse'] })
  const session = app.rpc.session(client.session as string) as Session
  const rotate = session.rotateToken.bind(session)
  session.rotateToken = () => { const token = rotate(); tokens.push(token); return token }
  faults.cut()
  await waitFor(() => tokens.length === 1 && session.connected, 'the page resumes')
  t.equal(await client.call('count'), 1)
  t.ok(urls.some((url) => url.endsWith('/stream')) && urls.some((url) => url.endsWith('/frames')))
  t.same(urls.filter((url) => url.includes('?') || tokens.some((token) => url.includes(token))), [], 'no query, no token')
})

t.test('the guards: origin, auth hooks, content type, body bound; coded 4xx answers without a stack', async (t) => {
  const { base } = await rpcApp(t, {
    websocket: { maxPayload: 1024 },
    route: { onRequest: async (request, reply) => { if (request.headers['x-user'] === 'eve') await reply.code(401).send({ message: 'who are you' }) } }
  })
  const answer = async (path: string, init: RequestInit): Promise<{ status: number, body: Record<string, unknown> }> => {
    const response = await fetch(`${base}/rpc/${path}`, { method: 'POST', ...init })
    const text = await response.text()
    return { status: response.status, body: text === '' ? {} : JSON.parse(text) }
  }
  for (const path of ['stream', 'frames']) {
    t.match(await answer(path, { headers: { ...json, origin: 'https://evil.test' }, body: HELLO }), { status: 403, body: { code: 'FST_ERR_RPC_ORIGIN_FORBIDDEN' } }, `${path}: a cross-site Origin`)
    t.match(await answer(path, { headers: { ...json, 'sec-fetch-site': 'cross-site' }, body: HELLO }), { status: 403, body: { code: 'FST_ERR_RPC_ORIGIN_FORBIDDEN' } }, `${path}: cross-site without Origin`)
    t.match(await answer(path, { headers: { ...json, 'x-user': 'eve' }, body: HELLO }), { status: 401 }, `${path}: the auth hooks`)
    t.match(await answer(path, { headers: { 'content-type': 'text/plain' }, body: HELLO }), { status: 415 }, `${path}: JSON only (a form cannot post it)`)
    t.match(await answer(path, { headers: json, body: `[${'1,'.repeat(600)}1]` }), { status: 413 }, `${path}: past maxPayload`)
  }
  const own = new URL(base).origin
  const refused = await answer('stream', { headers: { ...json, origin: own }, body: '{"t":"ack","ack":1}' })
  t.match(refused, { status: 400, body: { code: 'FST_ERR_RPC_INVALID_REQUEST', message: /the first frame must be a hello/ } })
  t.notOk('stack' in refused.body)
  t.match(await answer('stream', { headers: json, body: '{"t":"hello","v":99,"ack":0}' }), { status: 400, body: { code: 'FST_ERR_RPC_INVALID_REQUEST', message: /protocol version 99/ } })
  t.match(await answer('frames', { headers: { ...json, 'x-rpc-session': 'nope', 'x-rpc-key': 'nope' }, body: '{"t":"ack","ack":1}' }), { status: 404, body: { code: 'FST_ERR_RPC_UNKNOWN_CONNECTION' } })
  t.match(await answer('frames', { headers: { ...json, 'x-rpc-close': 'soon' } }), { status: 400, body: { code: 'FST_ERR_RPC_INVALID_REQUEST' } })
})

t.test('a POST with another key, another principal, or a refused frame', async (t) => {
  const { base } = await rpcApp(t, { principal: (request) => request.headers['x-user'] as string | undefined })
  const stream = await openStream(`${base}/rpc/stream`, { method: 'POST', headers: { ...json, 'x-user': 'alice' }, body: HELLO })
  t.teardown(() => { stream.destroy() })
  const welcome = JSON.parse((await stream.event(0)).data) as { session: string, key: string }
  const post = (headers: Record<string, string>, body: string): Promise<Response> => fetch(`${base}/rpc/frames`, { method: 'POST', headers: { ...json, 'x-rpc-session': welcome.session, ...headers }, body })
  t.equal((await post({ 'x-rpc-key': welcome.key.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')), 'x-user': 'alice' }, '{"t":"ack","ack":0}')).status, 404, 'another key')
  t.equal((await post({ 'x-rpc-key': welcome.key, 'x-user': 'bob' }, '{"t":"ack","ack":0}')).status, 404, 'another principal')
  t.equal((await post({ 'x-rpc-key': welcome.key, 'x-user': 'alice' }, '{"t":"ack","ack":0}')).status, 204, 'the connection\'s own')
  const gap = await post({ 'x-rpc-key': welcome.key, 'x-user': 'alice' }, '{"s":5,"a":0,"t":"call","id":1,"fn":"count","args":[]}')
  t.equal(gap.status, 400, 'a frame out of order')
  await stream.ended
  t.same(JSON.parse(stream.events.at(-1)?.data ?? '{}'), { code: 1008, reason: 'unexpected call frame' })
})

t.test('a newer stream of the same session closes the older with 4001', async (t) => {
  const { base } = await rpcApp(t)
  const first = await openStream(`${base}/rpc/stream`, { method: 'POST', headers: json, body: HELLO })
  t.teardown(() => { first.destroy() })
  const welcome = JSON.parse((await first.event(0)).data) as { session: string, token: string }
  const second = await openStream(`${base}/rpc/stream`, { method: 'POST', headers: json, body: JSON.stringify({ t: 'hello', v: 1, ack: 0, session: welcome.session, token: welcome.token }) })
  t.teardown(() => { second.destroy() })
  t.match(JSON.parse((await second.event(0)).data), { session: welcome.session, resumed: true })
  await first.ended
  t.same(JSON.parse(first.events.at(-1)?.data ?? '{}'), { code: 4001, reason: 'resumed by another connection' })
})

t.test('a dropped stream detaches the session (kept for its TTL); the page\'s close POST after it ends the session at once', async (t) => {
  const expired: string[] = []
  const { app, base } = await rpcApp(t, { onExpire: (session) => { expired.push(session.id) } })
  const stream = await openStream(`${base}/rpc/stream`, { method: 'POST', headers: json, body: HELLO })
  const welcome = JSON.parse((await stream.event(0)).data) as { session: string, key: string }
  const session = app.rpc.session(welcome.session) as Session
  t.equal(session.connected, true)
  stream.destroy()
  await waitFor(() => !session.connected, 'the session is detached')
  t.equal(app.rpc.session(welcome.session), session, 'kept for a resume')
  // The pagehide's POST, which raced the stream's end and lost.
  const close = await fetch(`${base}/rpc/frames`, { method: 'POST', headers: { 'x-rpc-session': welcome.session, 'x-rpc-key': welcome.key, 'x-rpc-close': '1001' } })
  t.equal(close.status, 204)
  await waitFor(() => expired.includes(welcome.session), 'the session ends')
  t.equal(session.expired, true)
})

t.test('client.close() over SSE ends the session at once; app.close() ends the streams', async (t) => {
  const expired: string[] = []
  const { app, open, base, slowAdd } = await rpcApp(t, { sessionTtl: 60_000, onExpire: (session) => { expired.push(session.id) } })
  const { client } = await open({ transports: ['sse'] })
  const id = client.session as string
  client.close()
  await waitFor(() => expired.includes(id), 'the session ends')
  const stream = await openStream(`${base}/rpc/stream`, { method: 'POST', headers: json, body: HELLO })
  await stream.event(0)
  const pending = (app.rpc.session(JSON.parse(stream.events[0]?.data ?? '{}').session) as Session).call(slowAdd, [1, 2], { timeout: 60_000 })
  await app.close()
  await stream.ended
  await t.rejects(pending, { code: RpcErrorCode.DISCONNECTED })
  t.equal([...app.rpc.sessions()].length, 0)
})

t.test('the page\'s event parser reads what the server\'s parser reads, split anywhere', async (t) => {
  const text = '\uFEFF: keep-alive\r\nid: 1\r\ndata: {"s":1}\r\ndata: 2\r\n\r\nevent: close\rdata: a\rdata: b\r\rid: 7\nretry: 10\ndata:x\n\n: c\n\nid\ndata\n\n'
  const expected = new SSEParser().push(text).map(({ event, data, id }) => ({ event, data, id }))
  t.equal(expected.length, 4)
  t.equal(expected[0]?.data, '{"s":1}\n2', 'a CRLF split between its CR and its LF is one line end')
  for (let cut = 0; cut <= text.length; cut++) {
    const parser = new EventParser()
    const events = [...parser.push(text.slice(0, cut)), ...parser.push(''), ...parser.push(text.slice(cut))]
    t.same(events, expected, `split at ${cut}`)
  }
})
