/**
 * The test page users get for their own tests: the page's client on ws with
 * a network the test breaks; every fault still gives exactly-once answers.
 * Each test runs on both transports: the WebSocket, and the SSE stream and
 * POSTs a page falls back to (issue #13).
 */
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import rpc, { connectTestPage, RpcErrorCode, type RpcTransport, type Session, type TestPage } from '../../plugins/rpc.js'
import { listen, waitFor } from '../helpers.js'
import { pagesOf } from './pages.js'

async function rpcApp (t: Test, transport: RpcTransport) {
  const app = Fastify()
  await app.register(rpc, { maxCallsPerSecond: 20 })
  let runs = 0
  const slowAdd = app.rpc.browserFunction('slowAdd', { params: Type.Tuple([Type.Number(), Type.Number()]), result: Type.Number() })
  app.rpc.serverFunction('count', { params: Type.Tuple([]), result: Type.Number() }, () => ++runs)
  const base = await listen(app)
  const openPage = pagesOf(t, app, base)
  const open = async (functions: Record<string, (...args: any[]) => unknown> = {}): Promise<TestPage> => {
    const page = await openPage({ functions, transports: [transport] })
    t.equal((app.rpc.session(page.client.session as string) as Session).transport, transport, `over ${transport}`)
    return page
  }
  return { app, slowAdd, open, runs: () => runs }
}

for (const transport of ['websocket', 'sse'] as const) {
  t.test(`cut mid-call: the server's call and the page's call are each answered once, on the same session (${transport})`, async (t) => {
    let release!: () => void
    let pageRuns = 0
    const { app, slowAdd, open, runs } = await rpcApp(t, transport)
    const { client, faults } = await open({ slowAdd: async (a: number, b: number) => { pageRuns++; await new Promise<void>((resolve) => { release = resolve }); return a + b } })
    const session = app.rpc.session(client.session as string)!
    const fromServer = session.call(slowAdd, [1, 2])
    await waitFor(() => pageRuns === 1, 'the page runs the call')
    faults.hold()
    const fromPage = client.call('count')
    faults.cut()
    faults.release()
    release()
    t.equal(await fromServer, 3)
    t.equal(await fromPage, 1)
    t.equal(pageRuns, 1)
    t.equal(runs(), 1)
    t.equal(client.session, session.id)
  })

  t.test(`duplicated and delayed frames: each call once, in order (${transport})`, async (t) => {
    const { open, runs } = await rpcApp(t, transport)
    const { client, faults } = await open()
    faults.duplicate(true)
    faults.delay(5)
    t.same(await Promise.all([client.call('count'), client.call('count'), client.call('count')]), [1, 2, 3])
    t.equal(runs(), 3)
  })

  t.test(`frames lost with a dying connection are sent again on the next one (${transport})`, async (t) => {
    const { open, runs } = await rpcApp(t, transport)
    const { client, faults } = await open()
    // Two messages: the calls of one turn leave together.
    faults.dropOutgoing(2)
    const first = client.call('count')
    await new Promise((resolve) => setImmediate(resolve))
    t.same(await Promise.all([first, client.call('count'), client.call('count')]), [1, 2, 3])
    t.equal(runs(), 3)
  })

  t.test(`past maxCallsPerSecond a page's calls are overloaded errors (${transport})`, async (t) => {
    const { open } = await rpcApp(t, transport)
    const { client } = await open()
    const results = await Promise.allSettled(Array.from({ length: 25 }, () => client.call('count')))
    const refused = results.filter((result) => result.status === 'rejected')
    t.equal(refused.length, 5)
    t.match((refused[0] as PromiseRejectedResult).reason, { code: RpcErrorCode.OVERLOADED })
  })

  t.test(`a frame whose arguments carry __proto__ is refused and the socket closed (${transport})`, async (t) => {
    const { open } = await rpcApp(t, transport)
    const { client } = await open()
    const disconnected = new Promise<void>((resolve) => { client.addEventListener('disconnected', () => { resolve() }) })
    // What a hostile page sends: JSON with a __proto__ key, which the server's parser refuses.
    await t.rejects(client.call('count', [JSON.parse('{"__proto__":{"polluted":true}}')]), { code: RpcErrorCode.DISCONNECTED })
    await disconnected
    t.equal(({} as Record<string, unknown>).polluted, undefined)
  })

  t.test(`a page whose browser-function module is out of date is told on its next connect (${transport})`, async (t) => {
    const { app: server, open } = await rpcApp(t, transport)
    const { client, faults } = await open()
    let updates = 0
    client.addEventListener('update', () => { updates++ })
    server.rpc.browserFunction('later', { params: Type.Tuple([]), result: Type.Null() }, () => null)
    faults.cut()
    await waitFor(() => updates === 1, 'the update event')
    t.equal(client.session, [...server.rpc.sessions()][0]?.id, 'the same session')
  })

  t.test(`a call or a result larger than the other side takes fails as such, and the socket stays up (${transport})`, async (t) => {
    const server = Fastify()
    t.teardown(() => server.close())
    await server.register(rpc, { websocket: { maxPayload: 16 * 1024 } })
    const echo = server.rpc.browserFunction('echo', { params: Type.Tuple([Type.String()]), result: Type.String() })
    server.rpc.serverFunction('length', { params: Type.Tuple([Type.String()]), result: Type.Number() }, (_session, text) => text.length)
    const { client } = await connectTestPage(await listen(server), { transports: [transport], functions: { echo: () => 'y'.repeat(32 * 1024) } })
    t.teardown(() => { client.close() })
    await t.rejects(client.call('length', ['x'.repeat(32 * 1024)]), { code: RpcErrorCode.OVERLOADED, message: /16384 bytes/ })
    t.equal(await client.call('length', ['x'.repeat(1000)]), 1000, 'the session goes on')
    await t.rejects(server.rpc.session(client.session as string)!.call(echo, ['a']), { code: RpcErrorCode.REMOTE, message: /larger than the 16384 bytes/ })
    t.equal(client.connected, true)
  })
}
