/**
 * Smoke test of the examples that run on two nodes against a real
 * redis-server (started on a free loopback port), over real sockets of
 * 127.0.0.1: the two-node board (each node serves its page, and a message
 * POSTed on one node reaches an SSE client of the other), and the chat rooms
 * on two nodes (a room split over them is one room; presence counts both).
 */
import t from 'tap'
import { buildChatNodes } from '../examples/chat.js'
import { buildRpcNodes, QUESTION } from '../examples/rpc.js'
import { connectTestPage, type TestPage } from '../plugins/rpc.js'
import { SSEParser } from '../src/sse/parser.js'
import { buildTwoNodes, renderMessage } from '../examples/two-nodes.js'
import { listen, openStream, waitFor, within } from './helpers.js'
import { redisSkip, startRedis } from './registry/redis-server.js'
import { connect, wsUrl, type TestClient } from './websocket/helpers.js'

const skip = await redisSkip()
if (skip !== false) t.plan(0, skip)

const LIMIT = 10_000

/** POSTs signals as the Datastar client does. */
function post (url: string, signals: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'datastar-request': 'true' },
    body: JSON.stringify(signals)
  })
}

t.test('two nodes on one Redis: a POST on A reaches an SSE client on B, and back', async (t) => {
  const redis = await startRedis(t)
  // Streams left open must not hold app.close().
  const { a, b } = await buildTwoNodes({ redis: redis.url, server: { forceCloseConnections: true } })
  t.teardown(() => Promise.all([a.close(), b.close()]))
  const urlA = await listen(a)
  const urlB = await listen(b)

  for (const [name, url] of [['A', urlA], ['B', urlB]]) {
    const html = await (await fetch(url + '/')).text()
    t.match(html, `<h1>Node ${name}</h1>`, `node ${name} serves its page`)
    t.match(html, "data-init=\"@get('/board/updates')\"")
  }

  const onB = await openStream(urlB + '/board/updates', { headers: { 'datastar-request': 'true' } })
  const onA = await openStream(urlA + '/board/updates', { headers: { 'datastar-request': 'true' } })
  t.teardown(() => { onA.destroy(); onB.destroy() })
  await waitFor(() => a.registry('board').size === 1 && b.registry('board').size === 1, 'a stream on each node')
  await Promise.all([a.registry('board').ready(), b.registry('board').ready()])

  const posted = await post(urlA + '/board/messages', { text: 'hello from A <3' })
  t.equal(posted.status, 200)
  t.match(await posted.text(), 'signals {"text":""}', 'the poster\'s input is cleared')

  const received = await within(onB.event(0), LIMIT, 'the message on B')
  t.equal(received.event, 'datastar-patch-elements')
  t.same(received.dataLines, ['selector #messages', 'mode append', `elements ${renderMessage('A', 'hello from A <3')}`])
  t.match(received.data, '&lt;3', 'escaped')
  t.match(received.id, /^\d+-\d+$/, 'a Redis stream id')

  await post(urlB + '/board/messages', { text: 'and from B' })
  const [first, second] = [await within(onA.event(0), LIMIT, 'A\'s own message on A'), await within(onA.event(1), LIMIT, 'B\'s message on A')]
  t.equal(first.id, received.id, 'the same event id on both nodes')
  t.match(second.data, renderMessage('B', 'and from B'))
  t.equal((await within(onB.event(1), LIMIT, 'B\'s message on B')).id, second.id, 'the same order on both nodes')

  const refused = await post(urlA + '/board/messages', { text: '   ' })
  t.equal(refused.status, 400, 'a blank message is refused')
})

t.test('the chat on two nodes with one Redis: a room split over them is one room, and presence counts both halves', async (t) => {
  const redis = await startRedis(t)
  const { a, b } = await buildChatNodes({ redis: redis.url, server: { forceCloseConnections: true } })
  const sockets: TestClient[] = []
  t.teardown(async () => {
    for (const socket of sockets) socket.socket.terminate()
    await Promise.all([a.close(), b.close()])
  })
  const urlA = await listen(a)
  const urlB = await listen(b)
  const join = async (url: string, path: string): Promise<TestClient> => {
    const client = await within(connect(wsUrl(url, path)), LIMIT, `joining ${path}`)
    sockets.push(client)
    return client
  }
  const nth = async (client: TestClient, index: number, what: string): Promise<unknown> => JSON.parse(String(await within(client.message(index), LIMIT, what)))

  // Each member's own "joined" is sent once its node hears the room's other nodes.
  const alice = await join(urlA, '/bongo?name=alice')
  t.same(await nth(alice, 0, 'alice joined, on A'), { type: 'joined', name: 'alice' })
  const carol = await join(urlA, '/fury?name=carol')
  t.same(await nth(carol, 0, 'carol joined /fury, on A'), { type: 'joined', name: 'carol' })
  const bob = await join(urlB, '/bongo?name=bob')
  t.same(await nth(bob, 0, 'bob joined, on B'), { type: 'joined', name: 'bob' })
  t.same(await nth(alice, 1, 'bob\'s join at alice'), { type: 'joined', name: 'bob' }, 'from B to A')

  alice.socket.send(JSON.stringify({ type: 'say', text: 'hi bob' }))
  const hi = { type: 'say', name: 'alice', text: 'hi bob' }
  t.same(await nth(bob, 1, 'alice\'s message at bob'), hi, 'from A to B')
  t.same(await nth(alice, 2, 'alice\'s message at alice'), hi)
  bob.socket.send(JSON.stringify({ type: 'say', text: 'hi alice' }))
  const back = { type: 'say', name: 'bob', text: 'hi alice' }
  t.same(await nth(alice, 3, 'bob\'s message at alice'), back, 'once: alice did not get her own message twice')
  t.same(await nth(bob, 2, 'bob\'s message at bob'), back)

  for (const [name, url] of [['A', urlA], ['B', urlB]]) {
    const presence = await (await fetch(`${url}/presence/bongo`)).json()
    t.same(presence, { clients: 2, nodes: { answered: 2, missing: 0 } }, `presence asked on ${name}`)
  }
  t.equal((await fetch(`${urlA}/presence/nowhere`)).status, 404)

  bob.socket.close()
  t.same(await nth(alice, 4, 'bob left, at alice'), { type: 'left', name: 'bob' }, 'the last member of B leaving reaches A')
  const dave = await join(urlB, '/fury?name=dave')
  t.same(await nth(dave, 0, 'dave joined /fury, on B'), { type: 'joined', name: 'dave' })
  t.same(await nth(carol, 1, 'carol\'s next message'), { type: 'joined', name: 'dave' }, '/fury heard nothing of /bongo, and hears B')
})

t.test('the RPC example on two nodes with one Redis: the admin view on A reaches the pages of both, and asks one on B', async (t) => {
  const redis = await startRedis(t)
  const { a, b } = await buildRpcNodes({ redis: redis.url, server: { forceCloseConnections: true }, omg: { askTimeout: LIMIT } })
  const pages: TestPage[] = []
  t.teardown(async () => {
    for (const { client } of pages) client.close()
    await Promise.all([a.close(), b.close()])
  })
  const urlA = await listen(a)
  const urlB = await listen(b)
  const asked: string[] = []
  const open = async (url: string): Promise<TestPage> => {
    const page = await within(connectTestPage(url, { functions: { confirm: (question: unknown) => { asked.push(String(question)); return true } } }), LIMIT, 'a page')
    pages.push(page)
    return page
  }
  const onA = await open(urlA)
  const onB = await open(urlB)
  // What the admin view's buttons POST, as Datastar's @post does.
  const post = async (url: string): Promise<string> => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'datastar-request': 'true' }, body: '{}' })
    return new SSEParser().push(await response.text()).map((event) => event.data).join('\n')
  }
  // The nodes find each other within a heartbeat: until then, A's admin view lists A's pages only.
  let answers = ''
  for (const started = Date.now(); !answers.includes(onB.client.session as string) && Date.now() - started < LIMIT;) answers = await within(post(`${urlA}/omg/add`), LIMIT, 'add(1, 2) in every page')
  for (const page of [onA, onB]) t.match(answers, new RegExp(`page-${page.client.session as string}[\\s\\S]*?ok[\\s\\S]*?3`), `the page on ${page === onA ? 'A' : 'B'} answered 3`)
  const answer = await within(post(`${urlA}/omg/ask/${onB.client.session as string}`), LIMIT, 'the ask')
  t.match(answer, /yes/, 'the page on B answered the admin on A')
  t.same(asked, [QUESTION])
})
