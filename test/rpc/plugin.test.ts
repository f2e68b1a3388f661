/**
 * The RPC plugin over real sockets: the served modules, the session socket,
 * declarations and their mistakes, hooks and app.close().
 */
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { WebSocket } from 'ws'
import rpc, { RpcClient, RpcErrorCode, type BrowserFunction, type ConnectOptions, type Session } from '../../plugins/rpc.js'
import { listen, waitFor } from '../helpers.js'

async function rpcApp (t: Test, options: Parameters<typeof rpc>[1] = {}, declare?: (app: FastifyInstance) => void) {
  const app = Fastify()
  await app.register(rpc, options)
  declare?.(app)
  const base = await listen(app)
  const clients: RpcClient[] = []
  t.teardown(async () => {
    for (const client of clients) client.close()
    await app.close()
  })
  /** A page: the served entry's functions module, imported as the browser would, and the client on ws. */
  const page = async (options: Partial<ConnectOptions> = {}): Promise<RpcClient> => {
    const entry = await (await fetch(`${base}/rpc/client.js`)).text()
    const hash = /functions\.([\w-]+)\.js/.exec(entry)?.[1] as string
    const source = await (await fetch(`${base}/rpc/functions.${hash}.js`)).text()
    const { functions } = await import(`data:text/javascript,${encodeURIComponent(source)}`) as { functions: Record<string, (...args: unknown[]) => unknown> }
    const client = await new RpcClient({
      url: `${base.replace('http', 'ws')}/rpc/socket`,
      WebSocket: WebSocket as unknown as ConnectOptions['WebSocket'],
      module: { hash, functions },
      reconnect: { initialDelay: 10, maxDelay: 50 },
      ...options
    }).start()
    clients.push(client)
    return client
  }
  return { app, base, page }
}

const pair = { params: Type.Tuple([Type.Number(), Type.Number()]), result: Type.Number() }

t.test('the served modules: an entry bound to a content-addressed module of the browser functions, and the runtime', async (t) => {
  const { base } = await rpcApp(t, {}, (app) => { app.rpc.browserFunction('add', pair, (a, b) => a + b) })
  const entry = await fetch(`${base}/rpc/client.js`)
  t.match(entry.headers.get('content-type'), /^text\/javascript/)
  t.equal(entry.headers.get('cache-control'), 'no-cache')
  const text = await entry.text()
  t.match(text, /import \{ functions \} from '\.\/functions\.[\w-]{16}\.js'/)
  const hash = /functions\.([\w-]+)\.js/.exec(text)?.[1] as string
  const module = await fetch(`${base}/rpc/functions.${hash}.js`)
  t.equal(module.headers.get('cache-control'), 'public, max-age=31536000, immutable')
  t.match(await module.text(), /"add": \(a, b\) => a \+ b/)
  t.equal((await fetch(`${base}/rpc/functions.AAAAAAAAAAAAAAAA.js`)).status, 404, 'another hash: not this server\'s module')
  for (const file of ['client.js', 'peer.js', 'protocol.js']) {
    const runtime = await fetch(`${base}/rpc/runtime/${file}`)
    t.equal(runtime.status, 200, file)
    t.notMatch(await runtime.text(), /sourceMappingURL/, `${file}: no source map comment pointing nowhere`)
  }
  t.equal((await fetch(`${base}/rpc/runtime/server.js`)).status, 404, 'only the runtime files')
})

t.test('calls both ways through the plugin, params checked by the route validator', async (t) => {
  let add!: BrowserFunction<[number, number], number>
  const { app, page } = await rpcApp(t, {}, (app) => {
    add = app.rpc.browserFunction('add', pair, (a, b) => a + b)
    app.rpc.serverFunction('greet', { params: Type.Tuple([Type.String({ maxLength: 10 })]), result: Type.String() }, async (session, name) => `hello ${name} from ${session.request.url}`)
  })
  const client = await page()
  t.equal(await client.call('greet', ['ada']), 'hello ada from /rpc/socket')
  const invalid = await client.call('greet', ['a name far too long']).catch((error: Error) => error)
  t.match(invalid, { code: RpcErrorCode.INVALID_PARAMS, message: /params of greet/ })
  const session = app.rpc.session(client.session as string) as Session
  t.equal(await session.call(add, [1, 2]), 3)
  const entries = await app.rpc.callAll(add, [2, 2])
  t.same(entries.map((entry) => [entry.session.id, entry.status, entry.value]), [[client.session, 'ok', 4]])
})

t.test('a browser function without a body is the page\'s own', async (t) => {
  let confirm!: BrowserFunction<[string], boolean>
  const { app, page } = await rpcApp(t, {}, (app) => {
    confirm = app.rpc.browserFunction('confirm', { params: Type.Tuple([Type.String()]), result: Type.Boolean() })
  })
  const client = await page({ functions: { confirm: (text: string) => text === 'ok?' } })
  t.equal(await (app.rpc.session(client.session as string) as Session).call(confirm, ['ok?']), true)
})

t.test('a result the app\'s Ajv accepts by coercion arrives coerced: a root scalar too', async (t) => {
  let confirm!: BrowserFunction<[string], boolean>
  let count!: BrowserFunction<[], number>
  const { app, page } = await rpcApp(t, {}, (app) => {
    confirm = app.rpc.browserFunction('confirm', { params: Type.Tuple([Type.String()]), result: Type.Boolean() })
    count = app.rpc.browserFunction('count', { params: Type.Tuple([]), result: Type.Number() })
  })
  const client = await page({ functions: { confirm: () => 'false', count: () => '3' } })
  const session = app.rpc.session(client.session as string) as Session
  t.equal(await session.call(confirm, ['ok?']), false, 'the boolean, not the truthy string "false"')
  t.equal(await session.call(count, []), 3)
})

t.test('declaration mistakes fail at once with coded errors', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(rpc)
  app.rpc.browserFunction('add', pair, (a, b) => a + b)
  t.throws(() => app.rpc.browserFunction('add', pair), { code: 'FST_ERR_RPC_DUPLICATE_FUNCTION' })
  const secret = 42
  t.throws(() => app.rpc.browserFunction('leak', pair, (a) => a + secret), { code: 'FST_ERR_RPC_BROWSER_FUNCTION', message: /"secret"/ })
  app.rpc.serverFunction('greet', { params: Type.Tuple([]), result: Type.Null() }, () => null)
  t.throws(() => app.rpc.serverFunction('greet', { params: Type.Tuple([]), result: Type.Null() }, () => null), { code: 'FST_ERR_RPC_DUPLICATE_FUNCTION' })
  for (const options of [{ sessionTtl: 0 }, { maxInFlight: 1.5 }, { prefix: 'rpc' }, { onBoot: 'x' }]) {
    await t.rejects(async () => { await Fastify().register(rpc, options as never).ready() }, { code: 'FST_ERR_RPC_INVALID_OPTION' }, JSON.stringify(options))
  }
})

t.test('onBoot once per page, onResume after a reconnect, onExpire at the end; data kept across the resume', async (t) => {
  const seen: string[] = []
  const { app, page } = await rpcApp(t, {
    data: () => ({ count: 0 }),
    onBoot: (session) => { seen.push(`boot ${session.id}`); (session.data as { count: number }).count++ },
    onResume: (session) => { seen.push(`resume ${session.id}`) },
    onExpire: (session) => { seen.push(`expire ${session.id}`) }
  })
  const client = await page()
  const id = client.session as string
  const session = app.rpc.session(id) as Session
  // The server drops the socket as a network would: the page resumes the same session.
  ;(session.connection as { close: (code: number, reason: string) => void }).close(1012, 'service restart')
  await waitFor(() => seen.length === 2, 'resumed')
  t.same(seen, [`boot ${id}`, `resume ${id}`])
  t.same(session.data, { count: 1 }, 'the same data')
  client.close()
  await waitFor(() => seen.length === 3, 'expired')
  t.same(seen.at(-1), `expire ${id}`)
})

t.test('auth hooks answer before the upgrade; the session is bound to the principal', async (t) => {
  const { app, base, page } = await rpcApp(t, {
    principal: (request) => request.headers['x-user'] as string | undefined,
    route: { onRequest: async (request, reply) => { if (request.headers['x-user'] === 'eve') await reply.code(403).send() } }
  })
  const refused = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/rpc/socket`, { headers: { 'x-user': 'eve' } })
    ws.on('unexpected-response', (_request, response) => { resolve(response.statusCode ?? 0) })
    ws.on('error', () => {})
  })
  t.equal(refused, 403)
  const alice = await page({ WebSocket: class extends WebSocket { constructor (url: string) { super(url, { headers: { 'x-user': 'alice' } }) } } as unknown as ConnectOptions['WebSocket'] })
  t.equal((app.rpc.session(alice.session as string) as Session).principal, 'alice')
})

t.test('app.close() ends every session: pending calls are disconnected', async (t) => {
  const app = Fastify()
  await app.register(rpc)
  const slow = app.rpc.browserFunction('slow', { params: Type.Tuple([]), result: Type.Null() }, () => new Promise(() => {}))
  const base = await listen(app)
  const entry = await (await fetch(`${base}/rpc/client.js`)).text()
  const hash = /functions\.([\w-]+)\.js/.exec(entry)?.[1] as string
  const source = await (await fetch(`${base}/rpc/functions.${hash}.js`)).text()
  const { functions } = await import(`data:text/javascript,${encodeURIComponent(source)}`) as { functions: Record<string, (...args: unknown[]) => unknown> }
  const client = await new RpcClient({ url: `${base.replace('http', 'ws')}/rpc/socket`, WebSocket: WebSocket as unknown as ConnectOptions['WebSocket'], module: { hash, functions }, reconnect: { initialDelay: 60_000 } }).start()
  t.teardown(() => { client.close() })
  const pending = (app.rpc.session(client.session as string) as Session).call(slow, [], { timeout: 60_000 })
  await app.close()
  await t.rejects(pending, { code: RpcErrorCode.DISCONNECTED })
  t.equal([...app.rpc.sessions()].length, 0)
})
