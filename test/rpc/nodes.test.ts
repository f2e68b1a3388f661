/**
 * RPC across nodes: Fastify nodes whose RPC plugin shares one backplane,
 * pages on ws (the page runtime, as connectTestPage runs it). Two nodes on a
 * MemoryBackplane in this process (calls to all, routed calls, a page that
 * reconnects to the other node, a node that shuts down); then three nodes on
 * a real redis-server, one cut off during a call to all (through a TCP proxy
 * between it and Redis, as a dead machine is).
 */
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { once } from 'node:events'
import { Type } from '@sinclair/typebox'
import { WebSocket } from 'ws'
import rpc, { connectTestPage, RpcClient, RpcErrorCode, type BrowserFunction, type RemoteSession, type RpcTransport, type Session, type TestPage } from '../../plugins/rpc.js'
import { MemoryBackplane, type Backplane } from '../../src/registry/backplane.js'
import { RedisBackplane } from '../../src/registry/redis.js'
import { listen, waitFor } from '../helpers.js'
import { redisSkip, startRedis } from '../registry/redis-server.js'
import { startProxy } from '../registry/tcp-proxy.js'

const pair = { params: Type.Tuple([Type.Number(), Type.Number()]), result: Type.Number() }

interface Node {
  app: FastifyInstance
  base: string
  port: number
  add: BrowserFunction<[number, number], number>
  // Implemented by the pages that pass it (connectTestPage's functions).
  wait: BrowserFunction<[], number>
  hooks: string[]
  page: (base?: string, transports?: RpcTransport[]) => Promise<TestPage>
}

async function node (t: Test, backplane: Backplane, name: string): Promise<Node> {
  const app = Fastify()
  const hooks: string[] = []
  await app.register(rpc, {
    backplane,
    data: () => ({ visits: 0 }),
    onBoot: (session) => { hooks.push(`boot ${session.id}`) },
    onResume: (session) => { hooks.push(`resume ${session.id}`) },
    onExpire: (session) => { hooks.push(`expire ${session.id}`) }
  })
  const add = app.rpc.browserFunction('add', pair, (a, b) => a + b)
  const wait = app.rpc.browserFunction('wait', { params: Type.Tuple([]), result: Type.Number() })
  app.rpc.serverFunction('node', { params: Type.Tuple([]), result: Type.String() }, () => name)
  const base = await listen(app)
  const pages: TestPage[] = []
  t.teardown(async () => {
    for (const { client } of pages) client.close()
    await app.close()
  })
  return {
    app,
    base,
    port: Number(new URL(base).port),
    add,
    wait,
    hooks,
    page: async (at = base, transports) => {
      const page = await connectTestPage(at, { reconnect: { initialDelay: 10, maxDelay: 50 }, transports })
      pages.push(page)
      return page
    }
  }
}

const ids = (entries: Array<{ session: { id: string }, status: string, value?: unknown }>): string[] =>
  entries.map(({ session, status, value }) => `${session.id} ${status} ${String(value)}`).sort()

t.test('two nodes: callAll reaches both nodes\' sessions, a session on the other node is called through it', async (t) => {
  const backplane = new MemoryBackplane()
  const a = await node(t, backplane, 'a')
  const b = await node(t, backplane, 'b')
  await waitFor(() => a.app.rpc.nodes().length === 2 && b.app.rpc.nodes().length === 2, 'the nodes know each other')
  const onA = await a.page()
  const onB = [await b.page(), await b.page()]
  const entries = await a.app.rpc.callAll(a.add, [1, 2], { timeout: 2000 })
  t.same(ids(entries), [onA, ...onB].map((page) => `${page.client.session as string} ok 3`).sort(), 'one entry per session, each naming it')
  const remote = entries.find((entry) => entry.session.id === onB[0]!.client.session)?.session as RemoteSession
  t.equal(remote.node, b.app.rpc.nodes()[0], 'a remote entry names its node')
  t.equal(await remote.call(a.add, [2, 2]), 4, 'and can be called again')

  const seen: string[] = []
  for await (const entry of b.app.rpc.callEach(b.add, [1, 1])) seen.push(`${entry.session.id} ${entry.status}`)
  t.equal(seen.length, 3, 'callEach yields every node\'s entries')

  const routed = a.app.rpc.session(onB[1]!.client.session as string)
  t.equal(await routed?.call(a.add, [5, 5]), 10, 'app.rpc.session(id) of a session on the other node: the call is routed to it')
  await t.rejects((a.app.rpc.session('no-such-session') as RemoteSession).call(a.add, [1, 1]), { code: RpcErrorCode.EXPIRED }, 'no node holds it')

  const narrowed = await a.app.rpc.callAll(a.add, [3, 3], { sessions: [remote] })
  t.same(ids(narrowed), [`${remote.id} ok 6`], 'sessions narrows to a remote session')
})

t.test('callEach yields another node\'s entries as its sessions answer, not when its slowest does', async (t) => {
  const backplane = new MemoryBackplane()
  const a = await node(t, backplane, 'a')
  const b = await node(t, backplane, 'b')
  await waitFor(() => a.app.rpc.nodes().length === 2, 'the nodes know each other')
  const fast = await b.page()
  const slow = await b.page()
  // The slow page's frames wait until the test lets them go: it answers only after the fast page's entry is out.
  slow.faults.hold()
  const order: string[] = []
  for await (const entry of a.app.rpc.callEach(a.add, [1, 2], { timeout: 10_000 })) {
    order.push(`${entry.session.id === fast.client.session ? 'fast' : 'slow'} ${entry.status}`)
    if (entry.session.id === fast.client.session) slow.faults.release()
  }
  t.same(order, ['fast ok', 'slow ok'], 'the fast page\'s entry came first, and let the slow one go')
})

t.test('another node\'s entries: in its one answer for callAll; for callEach, the ones that settle in a turn as one message ahead', async (t) => {
  const backplane = new MemoryBackplane()
  // What crosses the backplane ahead of the answers: the messages on the channels of entries.
  const ahead: string[] = []
  const publish = backplane.publishEphemeral.bind(backplane)
  backplane.publishEphemeral = async (channel, payload) => {
    if (channel.startsWith('rpc:entries:')) ahead.push(channel)
    await publish(channel, payload)
  }
  const a = await node(t, backplane, 'a')
  const b = await node(t, backplane, 'b')
  await waitFor(() => a.app.rpc.nodes().length === 2, 'the nodes know each other')
  // Five pages on b whose `wait` answers when the test opens their gate: four in one turn, then the fifth.
  const newGates = (): Array<{ promise: Promise<number>, open: () => void }> => [0, 1].map(() => {
    let open = (): void => {}
    const promise = new Promise<number>((resolve) => { open = () => { resolve(7) } })
    return { promise, open }
  })
  let gates = newGates()
  const pages = await Promise.all([0, 0, 0, 0, 1].map((gate) => connectTestPage(b.base, { functions: { wait: () => gates[gate]!.promise } })))
  t.teardown(() => { for (const { client } of pages) client.close() })
  const called = (): Promise<void> => waitFor(() => [...b.app.rpc.sessions()].every((session) => session.pending === 1), 'b called its five pages')

  const all = a.app.rpc.callAll(a.wait, [])
  await called()
  gates[0]!.open()
  await waitFor(() => [...b.app.rpc.sessions()].filter((session) => session.pending === 0).length === 4, 'four pages answered b')
  // Turns enough for b to have sent their entries ahead, if it did.
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve))
  gates[1]!.open()
  t.same((await all).map((entry) => `${entry.status} ${String(entry.value)}`), Array(5).fill('ok 7'), 'callAll: every entry of the other node')
  t.same(ahead, [], 'none sent ahead: callAll waits for all of them anyway')

  gates = newGates()
  const each = a.app.rpc.callEach(a.wait, [])
  const next = async (): Promise<string> => {
    const { value } = await each.next()
    return `${value?.status} ${String(value?.value)}`
  }
  const first = next()
  await called()
  gates[0]!.open()
  const four = [await first, await next(), await next(), await next()]
  t.same(four, Array(4).fill('ok 7'), 'callEach: the four that answered, before the fifth did')
  t.equal(ahead.length, 1, 'they answered in one turn on b: their entries went ahead as one message')
  gates[1]!.open()
  t.equal(await next(), 'ok 7', 'the fifth')
  t.equal((await each.next()).done, true)
  t.equal(ahead.length, 1, 'the fifth came with b\'s answer: nothing more sent ahead')
})

t.test('a timeout no call can carry: callAll, callEach and a remote session\'s call reject with invalid params, and call no page', async (t) => {
  const backplane = new MemoryBackplane()
  const a = await node(t, backplane, 'a')
  const b = await node(t, backplane, 'b')
  await waitFor(() => a.app.rpc.nodes().length === 2, 'the nodes know each other')
  await a.page()
  const onB = await b.page()
  const remote = a.app.rpc.session(onB.client.session as string) as RemoteSession
  for (const timeout of [Number.NaN, -1, 2 ** 31]) {
    const invalid = { code: RpcErrorCode.INVALID_PARAMS, message: /must be a number of ms/ }
    await t.rejects(a.app.rpc.callAll(a.add, [1, 2], { timeout }), invalid, `callAll, ${timeout}`)
    await t.rejects(a.app.rpc.callEach(a.add, [1, 2], { timeout }).next(), invalid, `callEach, ${timeout}`)
    await t.rejects(remote.call(a.add, [1, 2], { timeout }), invalid, `a remote session, ${timeout}`)
  }
  t.same([...a.app.rpc.sessions(), ...b.app.rpc.sessions()].map((session) => session.received), [0, 0], 'no page answered anything: none was called')
  t.equal(await remote.call(a.add, [1, 2], { timeout: 5000.5 }), 3, 'a fraction of a ms is rounded up')
  t.equal(await remote.call(a.add, [1, 2], { timeout: 2 ** 31 - 1 }), 3, 'the longest timeout: its node\'s deadline (a margin more) stays within a timer\'s reach')
  t.same((await a.app.rpc.callAll(a.add, [1, 2], { timeout: 2 ** 31 - 1 })).map((entry) => entry.status), ['ok', 'ok'], 'callAll too')
})

t.test('a POST of frames that reaches the other node is handed to the node that holds the stream', async (t) => {
  const backplane = new MemoryBackplane()
  const a = await node(t, backplane, 'a')
  const b = await node(t, backplane, 'b')
  await waitFor(() => a.app.rpc.nodes().length === 2, 'the nodes know each other')
  const entry = await (await fetch(`${b.base}/rpc/client.js`)).text()
  const hash = /functions\.([\w-]+)\.js/.exec(entry)?.[1] as string
  const source = await (await fetch(`${b.base}/rpc/functions.${hash}.js`)).text()
  const { functions } = await import(`data:text/javascript,${encodeURIComponent(source)}`) as { functions: Record<string, (...args: unknown[]) => unknown> }
  // A load balancer without affinity, as the page sees it: its stream on b, its POSTs of frames to a.
  const forwarded: string[] = []
  const client = await new RpcClient({
    transports: ['sse'],
    sseUrl: `${b.base}/rpc/stream`,
    module: { hash, functions },
    fetch: async (url, init) => {
      const target = String(url).replace(`${b.base}/rpc/frames`, `${a.base}/rpc/frames`)
      if (target !== String(url)) forwarded.push(target)
      return await fetch(target, init)
    }
  }).start()
  t.teardown(() => { client.close() })
  t.equal(await client.call('node'), 'b', 'the call reached b, where the stream is')
  t.ok(forwarded.length > 0, 'through a POST to a')
  t.equal(await a.app.rpc.callAll(a.add, [2, 2]).then((entries) => entries.map((entry) => entry.value)).then((values) => values[0]), 4, 'and its answers to calls, too')
})

for (const transport of ['websocket', 'sse'] as const) {
  t.test(`a page that reconnects to the other node resumes its session there: data kept, onResume, the old node lets it go (${transport})`, async (t) => {
    const backplane = new MemoryBackplane()
    const a = await node(t, backplane, 'a')
    const b = await node(t, backplane, 'b')
    await waitFor(() => a.app.rpc.nodes().length === 2, 'the nodes know each other')
    // A load balancer of the test's own: new connections go where it says.
    const balancer = await startProxy(t, a.port)
    const { client, faults } = await a.page(`http://127.0.0.1:${balancer.port}`, [transport])
    const id = client.session as string
    t.equal(await client.call('node'), 'a')
    const onA = a.app.rpc.session(id) as Session
    onA.data.visits = 3
    let moved = 0
    client.addEventListener('connected', () => { moved++ })

    balancer.retarget(b.port)
    // Every connection through the balancer goes, the fetch pool's kept-alive ones too: the next ones reach b.
    balancer.cut()
    faults.cut()
    await waitFor(() => moved === 1, 'the page reconnected')
    t.equal(client.session, id, 'the same session')
    t.equal(await client.call('node'), 'b', 'now served by b')
    const onB = b.app.rpc.session(id) as Session
    t.same(onB.data, { visits: 3 }, 'its data came along')
    t.same(b.hooks, [`resume ${id}`], 'onResume on b, not onBoot')
    t.equal(a.app.rpc.session(id) instanceof Object && !('data' in (a.app.rpc.session(id) as object)), true, 'a holds it no more: a handle to b')
    t.notOk(a.hooks.includes(`expire ${id}`), 'not expired on a: it lives on')
    t.equal(await a.app.rpc.session(id)?.call(a.add, [1, 2]), 3, 'a call from a reaches it on b')
    t.equal((b.app.rpc.session(id) as Session).transport, transport)
    if (transport === 'sse') {
      // A POST of frames that reaches a, for b's connection, with a key that is not the connection's: refused, through b.
      const forged = await fetch(`${a.base}/rpc/frames`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-rpc-session': id, 'x-rpc-key': 'not-the-key' }, body: '{"t":"ack","ack":0}' })
      t.equal(forged.status, 404, 'the key is checked where the connection is')
    }
    // A hello for the session with a token that is not its own, on a: a new session, b's untouched.
    const ws = new WebSocket(`${a.base.replace('http', 'ws')}/rpc/socket`)
    t.teardown(() => { ws.terminate() })
    await once(ws, 'open')
    ws.send(JSON.stringify({ t: 'hello', v: 1, ack: 0, session: id, token: 'stolen' }))
    const [welcome] = await once(ws, 'message')
    t.match(JSON.parse(String(welcome)), { resumed: false }, 'a wrong token claims nothing')
    t.not(JSON.parse(String(welcome)).session, id)
    t.equal(await client.call('node'), 'b', 'the page keeps its session on b')
  })
}

t.test('a node that shuts down hands its sessions over: its pages resume on the other node', async (t) => {
  const backplane = new MemoryBackplane()
  const a = await node(t, backplane, 'a')
  const b = await node(t, backplane, 'b')
  await waitFor(() => a.app.rpc.nodes().length === 2, 'the nodes know each other')
  const balancer = await startProxy(t, a.port)
  const { client } = await a.page(`http://127.0.0.1:${balancer.port}`)
  const id = client.session as string
  ;(a.app.rpc.session(id) as Session).data.visits = 7
  let connected = 0
  client.addEventListener('connected', () => { connected++ })
  balancer.retarget(b.port)
  await a.app.close()
  // The page's calls wait for its welcome: one made before it would be a call in flight across the move.
  await waitFor(() => connected === 1, 'the page resumed on b')
  t.same((b.app.rpc.session(id) as Session).data, { visits: 7 })
  t.same(a.hooks, [`boot ${id}`], 'no onExpire on the node that shut down')
  t.equal(await client.call('node'), 'b')
})

t.test('three nodes on a real Redis; one cut off during callAll: its sessions are timeouts within the deadline, the others answer', { skip: await redisSkip() }, async (t) => {
  const redis = await startRedis(t)
  const proxy = await startProxy(t, redis.port)
  const a = await node(t, new RedisBackplane({ redis: redis.url }), 'a')
  const b = await node(t, new RedisBackplane({ redis: redis.url }), 'b')
  const c = await node(t, new RedisBackplane({ redis: `redis://127.0.0.1:${proxy.port}`, onError: () => {} }), 'c')
  await waitFor(() => a.app.rpc.nodes().length === 3 && c.app.rpc.nodes().length === 3, 'three nodes')
  const pages = { a: await a.page(), b: await b.page(), c: [await c.page(), await c.page()] }
  t.equal((await a.app.rpc.callAll(a.add, [1, 2], { timeout: 2000 })).filter((entry) => entry.status === 'ok').length, 4, 'every node answers')
  // A call from a to a session on b, routed through Redis.
  t.equal(await a.app.rpc.session(pages.b.client.session as string)?.call(a.add, [2, 3]), 5)

  // c's pages answer late; c is cut off while the call to all runs (its answer would come after).
  for (const page of pages.c) page.faults.delay(300)
  const started = Date.now()
  const running = a.app.rpc.callAll(a.add, [1, 2], { timeout: 1000 })
  await new Promise((resolve) => setTimeout(resolve, 100))
  proxy.down()
  const entries = await running
  const elapsed = Date.now() - started
  t.same(ids(entries), [
    `${pages.a.client.session as string} ok 3`,
    `${pages.b.client.session as string} ok 3`,
    ...pages.c.map((page) => `${page.client.session as string} timeout undefined`)
  ].sort(), 'c\'s sessions (from their records) are timeouts; the others answered')
  t.ok(elapsed < 5000, `settled by the deadline and its margin (${elapsed} ms)`)

  // A call in flight to a session of a node that left the cluster: disconnected, within its deadline.
  const lost = a.app.rpc.session(pages.c[0]!.client.session as string) as RemoteSession
  await t.rejects(lost.call(a.add, [1, 1], { timeout: 7000 }), { code: RpcErrorCode.DISCONNECTED })
})
