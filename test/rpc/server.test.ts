/**
 * The RPC core end to end without Fastify: an RpcServer on a ws server,
 * clients of the browser module run on ws, sockets cut by the test.
 */
import t, { type Test } from 'tap'
import { once } from 'node:events'
import { Type, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { WebSocket, WebSocketServer } from 'ws'
import { RpcClient, type ConnectOptions } from '../../src/rpc/browser/client.js'
import { RpcError } from '../../src/rpc/browser/peer.js'
import { RpcErrorCode } from '../../src/rpc/browser/protocol.js'
import type { BrowserFunction } from '../../src/rpc/functions.js'
import { RpcServer, type RpcServerSettings } from '../../src/rpc/server.js'
import type { RpcSession } from '../../src/rpc/session.js'
import { waitFor } from '../helpers.js'

const add: BrowserFunction<[number, number], number> = { name: 'add', params: Type.Tuple([Type.Number(), Type.Number()]), result: Type.Number() }

type Session = RpcSession<{ visits: number }, string>

async function start (t: Test, settings: Partial<RpcServerSettings<{ visits: number }, string>> = {}) {
  const errors: Error[] = []
  const server = new RpcServer<{ visits: number }, string>({
    sessionTtl: 60_000,
    maxRetained: 100,
    timeout: 5_000,
    maxInFlight: 64,
    maxOutboxBytes: 1024 * 1024,
    maxCallsPerSecond: 1000,
    maxFrameBytes: 64 * 1024,
    data: () => ({ visits: 0 }),
    check: (schema, value, context) => Value.Check(schema as TSchema, value)
      ? { valid: true, value }
      : { valid: false, message: `${context} does not match its schema` },
    onError: (error) => { errors.push(error) },
    moduleHash: () => 'h1',
    ...settings
  })
  server.serverFunctions.greet = { name: 'greet', params: Type.Tuple([Type.String()]), result: Type.String(), handler: async (session, args) => `hello ${String(args[0])} (${(session as Session).id.length})` }
  const sockets = new Set<WebSocket>()
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  wss.on('connection', (ws, request) => {
    sockets.add(ws)
    const principal = new URL(request.url ?? '/', 'http://x').searchParams.get('user') ?? undefined
    const socket = server.connect({ send: (text) => { ws.send(text) }, close: (code, reason) => { ws.close(code, reason) } }, request.url ?? '', principal)
    ws.on('message', (data) => { socket.receive(String(data)) })
    ws.on('close', (code) => { sockets.delete(ws); socket.closed(code) })
  })
  await once(wss, 'listening')
  const port = (wss.address() as { port: number }).port
  const clients: RpcClient[] = []
  t.teardown(async () => {
    for (const client of clients) client.close()
    server.close()
    for (const ws of sockets) ws.terminate()
    await new Promise((resolve) => wss.close(resolve))
  })
  const client = async (options: Partial<ConnectOptions> = {}, user?: string): Promise<RpcClient> => {
    const connected = await new RpcClient({
      url: `ws://127.0.0.1:${port}/rpc${user === undefined ? '' : `?user=${user}`}`,
      WebSocket: WebSocket as unknown as ConnectOptions['WebSocket'],
      functions: { add: (a: number, b: number) => a + b },
      reconnect: { initialDelay: 10, maxDelay: 50 },
      ...options
    }).start()
    clients.push(connected)
    return connected
  }
  // The server side of a client's socket, to cut it as a network would.
  const cut = (): void => { for (const ws of sockets) ws.terminate() }
  return { server, client, cut, errors, port }
}

t.test('the browser calls a server function; the server calls a browser function', async (t) => {
  const { server, client } = await start(t)
  const page = await client()
  t.match(await page.call('greet', ['ada']), /^hello ada/)
  const session = server.sessions.get(page.session as string) as Session
  t.equal(await session.call(add, [1, 2]), 3)
})

t.test('bad params, unknown names and a prototype name are coded errors; a throwing handler shows no details', async (t) => {
  const { server, client, errors } = await start(t)
  server.serverFunctions.fail = { name: 'fail', params: Type.Tuple([]), result: Type.Null(), handler: () => { throw new Error('database password is hunter2') } }
  const page = await client()
  await t.rejects(page.call('greet', [42]), { code: RpcErrorCode.INVALID_PARAMS })
  await t.rejects(page.call('nope', []), { code: RpcErrorCode.NOT_FOUND })
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    await t.rejects(page.call(name, []), { code: RpcErrorCode.NOT_FOUND }, name)
  }
  const failure = await page.call('fail', []).catch((error: Error) => error)
  t.match(failure, { code: RpcErrorCode.REMOTE, message: 'server function fail failed' })
  t.match(errors, [{ message: 'database password is hunter2' }], 'the details are in the log only')
})

t.test('a browser result that fails its schema is an invalid-result error', async (t) => {
  const { server, client } = await start(t)
  const page = await client({ functions: { add: () => 'three' } })
  await t.rejects((server.sessions.get(page.session as string) as Session).call(add, [1, 2]), { code: RpcErrorCode.INVALID_RESULT })
})

t.test('callAll: one entry per session, each naming its session, never rejecting as a whole', async (t) => {
  const { server, client } = await start(t)
  const pages = await Promise.all([client(), client(), client({ functions: { add: () => { throw new Error('no') } } }), client({ functions: { add: () => new Promise(() => {}) } })])
  const entries = await server.callAll(add, [1, 2], { timeout: 200 })
  t.same(entries.map((entry) => [entry.session.id, entry.status, entry.value]), [
    [pages[0]!.session, 'ok', 3],
    [pages[1]!.session, 'ok', 3],
    [pages[2]!.session, 'error', undefined],
    [pages[3]!.session, 'timeout', undefined]
  ])
  const seen: string[] = []
  for await (const entry of server.callEach(add, [2, 3], { timeout: 200, sessions: [server.sessions.get(pages[0]!.session as string) as Session] })) seen.push(`${entry.status} ${String(entry.value)}`)
  t.same(seen, ['ok 5'], 'sessions narrows the targets')

  // A session that cannot take the call settles at once: its entry is there all the same, in its place.
  const ended = server.sessions.get(pages[1]!.session as string) as Session
  ended.expire(new RpcError(RpcErrorCode.EXPIRED, 'gone'))
  const targets = [ended, server.sessions.get(pages[0]!.session as string) as Session]
  t.same((await server.callAll(add, [1, 1], { sessions: targets })).map((entry) => entry.status), ['disconnected', 'ok'])
  t.same((await server.callAll(add, [1, 1], { sessions: [ended] })).map((entry) => entry.status), ['disconnected'], 'every target settled at once')
  t.same(await server.callAll(add, [1, 1], { sessions: [] }), [], 'no targets')
  const each: string[] = []
  for await (const entry of server.callEach(add, [1, 1], { sessions: targets })) each.push(entry.status)
  t.same(each, ['disconnected', 'ok'])
})

t.test('a call in flight across a cut connection is answered exactly once, on the same session', async (t) => {
  let runs = 0
  let release!: () => void
  const { server, client, cut } = await start(t, { onResume: () => {} })
  const page = await client({ functions: { add: async (a: number, b: number) => { runs++; await new Promise<void>((resolve) => { release = resolve }); return a + b } } })
  const session = server.sessions.get(page.session as string) as Session
  const result = session.call(add, [20, 22])
  await waitFor(() => runs === 1, 'the page runs the call')
  cut()
  await waitFor(() => !session.connected, 'the server saw the cut')
  release()
  await waitFor(() => session.connected, 'the page resumed')
  t.equal(await result, 42)
  t.equal(runs, 1, 'run once')
  t.equal(page.session, session.id, 'the same session')
})

t.test('a page that says bye ends its session at once: its calls are disconnected, not left to time out', async (t) => {
  const expired: string[] = []
  const { server, client } = await start(t, { onExpire: (session) => { expired.push(session.id) } })
  const page = await client({ functions: { add: () => new Promise(() => {}) } })
  const session = server.sessions.get(page.session as string) as Session
  const pending = session.call(add, [1, 2], { timeout: 60_000 })
  page.close()
  await t.rejects(pending, { code: RpcErrorCode.DISCONNECTED })
  t.same(expired, [session.id])
  t.equal(server.sessions.size, 0)
})

t.test('a disconnected session expires after its TTL, its calls rejected as expired', async (t) => {
  const { server, client, cut } = await start(t, { sessionTtl: 50 })
  const page = await client({ reconnect: { initialDelay: 60_000, maxDelay: 60_000 } })
  const session = server.sessions.get(page.session as string) as Session
  cut()
  const pending = session.call(add, [1, 2], { timeout: 60_000 })
  await t.rejects(pending, { code: RpcErrorCode.EXPIRED })
  t.equal(server.sessions.get(session.id), undefined)
})

t.test('a resume by another user is refused and starts a new session', async (t) => {
  const { server, client } = await start(t)
  const alice = await client({}, 'alice')
  const session = server.sessions.get(alice.session as string) as Session
  const token = (session as unknown as { rotateToken: () => string }).rotateToken()
  t.equal(server.sessions.resume(session.id, token, 'mallory'), undefined, 'wrong principal')
  t.equal(server.sessions.resume(session.id, 'not the token', 'alice'), undefined, 'wrong token')
  t.equal(server.sessions.resume(session.id, token, 'alice'), session, 'the right token and user')
})

t.test('arguments that are not JSON make the call fail, not throw', async (t) => {
  const { server, client } = await start(t)
  const page = await client()
  const session = server.sessions.get(page.session as string) as Session
  const call = session.call(add, [1n as unknown as number, 2])
  await t.rejects(call, TypeError)
  t.equal(session.pending, 0, 'nothing left waiting')
})

t.test('a batch of frames is handled in order; a handshake inside a batch is refused', async (t) => {
  const { server, port } = await start(t)
  const open = async (): Promise<{ ws: WebSocket, messages: string[], closed: Promise<number> }> => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/rpc`)
    const messages: string[] = []
    ws.on('message', (data) => { messages.push(String(data)) })
    const closed = once(ws, 'close').then(([code]) => code as number)
    await once(ws, 'open')
    return { ws, messages, closed }
  }
  const refused = await open()
  refused.ws.send('[{"t":"hello","v":1,"ack":0}]')
  t.equal(await refused.closed, 1008, 'a hello must travel alone')

  const page = await open()
  page.ws.send('{"t":"hello","v":1,"ack":0}')
  await waitFor(() => page.messages.length === 1, 'the welcome')
  page.ws.send('[{"s":1,"a":0,"t":"call","id":1,"fn":"greet","args":["ada"]},{"s":2,"a":0,"t":"call","id":2,"fn":"greet","args":["bob"]}]')
  await waitFor(() => page.messages.length > 1 && page.messages.join('').includes('bob'), 'both results')
  const results = page.messages.slice(1).flatMap((text) => [JSON.parse(text)].flat()).filter((frame) => frame.t === 'result')
  t.match(results, [{ id: 1, value: /^hello ada/ }, { id: 2, value: /^hello bob/ }], 'answered in order')
  t.equal(server.sessions.size, 1)
  page.ws.close()
})
