/**
 * Smoke test of the two-node example against a real redis-server (started on
 * a free loopback port): each node serves its page, and a message POSTed on
 * one node reaches an SSE client of the other, over real sockets of 127.0.0.1.
 */
import t from 'tap'
import { buildTwoNodes, renderMessage } from '../examples/two-nodes.js'
import { listen, openStream, waitFor, within } from './helpers.js'
import { redisSkip, startRedis } from './registry/redis-server.js'

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
