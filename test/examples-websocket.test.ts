/**
 * Smoke test of the WebSocket examples, over real sockets of 127.0.0.1: the
 * chat rooms (join by connecting, say, leave by closing; rooms are separate;
 * unknown rooms and bad names are refused before the upgrade; a message that
 * fails the schema closes with 1008) and the mixed example (a Datastar stream
 * and WebSocket clients in one registry get the same events, whoever sent the
 * command).
 *
 * "X received nothing else" is proved by order, not by waiting: a connection
 * delivers its messages in order, so when a later message arrives right after
 * an earlier one, nothing was delivered in between.
 */
import { test, type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { Subscriber } from 'fastify-datastar'
import type { ParsedEvent } from 'fastify-datastar/core'
import { buildChatApp } from '../examples/chat.js'
import { buildMixedApp, MIXED_REGISTRY } from '../examples/mixed.js'
import { fetchPage, listen, openStream, waitFor, within, type StreamClient } from './helpers.js'
import { connect, upgradeResponse, wsUrl, type TestClient } from './websocket/helpers.js'

/** The bound of every wait (a failure message, never a measurement). */
const LIMIT = 5000

interface Harness {
  url: string
  /** Opens a WebSocket that is closed at teardown. */
  join: (path: string) => Promise<TestClient>
  /** Opens an event stream that is destroyed at teardown. */
  open: (path: string) => Promise<StreamClient>
}

/** Listens on 127.0.0.1:0; at teardown, ends every connection opened, then closes the app. */
async function boot (t: Test, app: FastifyInstance): Promise<Harness> {
  const sockets: TestClient[] = []
  const streams: StreamClient[] = []
  t.teardown(async () => {
    for (const socket of sockets) socket.socket.terminate()
    for (const stream of streams) stream.destroy()
    await app.close()
  })
  const url = await listen(app)
  return {
    url,
    join: async (path) => {
      const client = await within(connect(wsUrl(url, path)), LIMIT, `the upgrade of ${path}`)
      sockets.push(client)
      return client
    },
    open: async (path) => {
      const stream = await within(openStream(url + path, { headers: { 'datastar-request': 'true' } }), LIMIT, `the head of ${path}`)
      streams.push(stream)
      return stream
    }
  }
}

/** The `index`-th message of a WebSocket client, parsed as JSON, within the bound. */
async function nthMessage (client: TestClient, index: number, what: string): Promise<unknown> {
  const message = await within(client.message(index), LIMIT, what)
  if (typeof message !== 'string') throw new Error(`${what}: a binary message`)
  return JSON.parse(message)
}

/** The `index`-th event of a stream, within the bound. */
function nthEvent (stream: StreamClient, index: number, what: string): Promise<ParsedEvent> {
  return within(stream.event(index), LIMIT, what)
}

/** Every message a WebSocket client received so far, parsed. */
function received (client: TestClient): unknown[] {
  return client.messages.map((message) => JSON.parse(String(message)))
}

// ---------------------------------------------------------------- chat

test('chat: two members of /bongo see joined, say and left; a member of /fury sees none of it', async (t) => {
  const { join } = await boot(t, await buildChatApp())

  const alice = await join('/bongo?name=alice')
  t.same(await nthMessage(alice, 0, 'alice joined, at alice'), { type: 'joined', name: 'alice' }, 'the joiner sees its own join')
  const bob = await join('/bongo?name=bob')
  t.same(await nthMessage(bob, 0, 'bob joined, at bob'), { type: 'joined', name: 'bob' })
  t.same(await nthMessage(alice, 1, 'bob joined, at alice'), { type: 'joined', name: 'bob' })
  const carol = await join('/fury?name=carol')
  t.same(await nthMessage(carol, 0, 'carol joined, at carol'), { type: 'joined', name: 'carol' })

  alice.socket.send(JSON.stringify({ type: 'say', text: 'Hello <b>bob</b> & all' }))
  const said = { type: 'say', name: 'alice', text: 'Hello <b>bob</b> & all' }
  t.same(await nthMessage(bob, 1, 'alice says, at bob'), said, 'the text as sent: escaping is the page\'s job')
  t.same(await nthMessage(alice, 2, 'alice says, at alice'), said, 'the sender gets it too, in the room\'s order')

  bob.socket.send(JSON.stringify({ type: 'say', text: 'hi alice' }))
  t.same(await nthMessage(alice, 3, 'bob says, at alice'), { type: 'say', name: 'bob', text: 'hi alice' })
  t.same(await nthMessage(bob, 2, 'bob says, at bob'), { type: 'say', name: 'bob', text: 'hi alice' })

  bob.socket.close(1000, 'bye')
  t.equal((await within(bob.closed, LIMIT, 'bob closed')).code, 1000)
  t.same(await nthMessage(alice, 4, 'bob left, at alice'), { type: 'left', name: 'bob' })

  // Carol's own message comes right after her join: nothing of /bongo reached her.
  carol.socket.send(JSON.stringify({ type: 'say', text: 'anyone?' }))
  t.same(await nthMessage(carol, 1, 'carol says, at carol'), { type: 'say', name: 'carol', text: 'anyone?' })
  t.same(received(carol), [{ type: 'joined', name: 'carol' }, { type: 'say', name: 'carol', text: 'anyone?' }], '/fury saw only /fury')
  // And the other way round.
  alice.socket.send(JSON.stringify({ type: 'say', text: 'alone now' }))
  t.same(await nthMessage(alice, 5, 'alice says again'), { type: 'say', name: 'alice', text: 'alone now' })
  t.equal(alice.messages.length, 6, '/bongo saw nothing of /fury')
  t.same(received(bob), [{ type: 'joined', name: 'bob' }, said, { type: 'say', name: 'bob', text: 'hi alice' }], 'bob saw nothing after he left')
})

test('chat: unknown rooms and unusable names are refused before the upgrade', async (t) => {
  const { url } = await boot(t, await buildChatApp())

  const nowhere = await upgradeResponse(`${url}/nowhere?name=alice`)
  t.equal(nowhere.status, 404, 'a room that does not exist')
  t.match(nowhere.body, /FST_ERR_WS_RESOURCE_NOT_FOUND/)
  await t.rejects(connect(wsUrl(url, '/nowhere?name=alice')), /unexpected response 404/, 'a ws client cannot join it')

  const names: Array<[string, string]> = [['', 'no name'], ['?name=', 'an empty name'], ['?name=%20%20', 'a blank name'], [`?name=${'x'.repeat(33)}`, 'a name too long'], ['?name=a%0Ab', 'a control character']]
  for (const [query, what] of names) {
    const answer = await upgradeResponse(`${url}/bongo${query}`)
    t.equal(answer.status, 400, what)
    t.match(answer.body, /name/)
  }

  // A plain GET of a room is not a page.
  const plain = await fetch(`${url}/bongo?name=alice`)
  t.equal(plain.status, 426, 'a room answers upgrades only')
})

test('chat: a message that fails the schema closes the connection with 1008, and the room sees the member leave', async (t) => {
  const { join } = await boot(t, await buildChatApp())
  const alice = await join('/bongo?name=alice')
  await nthMessage(alice, 0, 'alice joined')

  const invalid: Array<[string, string]> = [
    [JSON.stringify({ type: 'shout', text: 'HEY' }), 'an unknown type'],
    [JSON.stringify({ type: 'say', text: '' }), 'empty text'],
    [JSON.stringify({ type: 'say' }), 'no text'],
    ['hello', 'not JSON']
  ]
  let index = 1
  for (const [message, what] of invalid) {
    const mallory = await join('/bongo?name=mallory')
    t.same(await nthMessage(alice, index++, `mallory joined (${what})`), { type: 'joined', name: 'mallory' })
    mallory.socket.send(message)
    const closed = await within(mallory.closed, LIMIT, `the close (${what})`)
    t.equal(closed.code, 1008, `${what}: Policy Violation`)
    t.same(await nthMessage(alice, index++, `mallory left (${what})`), { type: 'left', name: 'mallory' }, `${what}: nothing was said, mallory left`)
  }
})

test('chat: the page is self-contained HTML that renders with textContent', async (t) => {
  const { url } = await boot(t, await buildChatApp())
  const html = await fetchPage(t, url, '/chat')
  t.match(html, /new WebSocket\(/)
  t.match(html, /<option value="bongo">/)
  t.match(html, /<option value="fury">/)
  t.notMatch(html, /<script[^>]+src=/, 'no external script')
  t.match(html, /textContent/)
  t.notMatch(html, /innerHTML/, 'nothing received is parsed as HTML')
})

// ---------------------------------------------------------------- mixed

/** The signals of a datastar-patch-signals event's data. */
function signalsIn (data: string): unknown {
  return JSON.parse(data.replace(/^signals /, ''))
}

test('mixed: a POST and a WebSocket command reach the Datastar stream and the WebSocket clients alike', async (t) => {
  const app = await buildMixedApp()
  const { url, join, open } = await boot(t, app)
  const ticker = app.registry<Subscriber>(MIXED_REGISTRY)

  const stream = await open('/mixed/updates')
  t.equal(stream.status, 200)
  t.match(stream.headers['content-type'], /^text\/event-stream/)
  const ws = await join('/ws/ticker')
  const other = await join('/ws/ticker')

  // Each starts with the current state, in its own transport.
  const first = await nthEvent(stream, 0, 'the stream\'s first state')
  t.equal(first.event, 'datastar-patch-signals')
  t.same(signalsIn(first.data), { count: 0 })
  t.equal((await nthEvent(stream, 1, 'the stream\'s first line')).data, 'elements <p id="last">No change yet.</p>')
  for (const [name, client] of [['ws', ws], ['other', other]] as const) {
    t.same(await nthMessage(client, 0, `${name}'s first state`), { event: 'datastar-patch-signals', data: 'signals {"count":0}' }, `${name}: the JSON envelope, no id`)
    t.same(await nthMessage(client, 1, `${name}'s first line`), { event: 'datastar-patch-elements', data: 'elements <p id="last">No change yet.</p>' })
  }
  await waitFor(() => ticker.size === 3, 'the stream and both sockets in the registry', LIMIT)

  /** Events `index` and `index + 1` at every subscriber: the same ids and data everywhere. */
  async function change (index: number, count: number, source: string): Promise<void> {
    const signals = await nthEvent(stream, index, `count ${count} at the stream`)
    const line = await nthEvent(stream, index + 1, `the line at the stream (count ${count})`)
    t.equal(signals.event, 'datastar-patch-signals')
    t.same(signalsIn(signals.data), { count })
    t.equal(line.event, 'datastar-patch-elements')
    t.match(line.data, new RegExp(`^elements <p id="last">Last change: \\w+, from ${source}\\.</p>$`))
    t.not(signals.id, '', 'a registry event has an id')
    for (const [name, client] of [['ws', ws], ['other', other]] as const) {
      t.same(await nthMessage(client, index, `count ${count} at ${name}`), { event: signals.event, id: signals.id, data: signals.data }, `${name}: the same event as the stream`)
      t.same(await nthMessage(client, index + 1, `the line at ${name} (count ${count})`), { event: line.event, id: line.id, data: line.data })
    }
  }

  // A command from the page.
  const posted = await fetch(`${url}/mixed/increment`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'datastar-request': 'true' },
    body: JSON.stringify({ count: 0 })
  })
  t.equal(posted.status, 204)
  await change(2, 1, 'the page')

  // A command from a WebSocket client reaches the stream and the other client.
  ws.socket.send(JSON.stringify({ command: 'increment' }))
  await change(4, 2, 'a WebSocket client')
  other.socket.send(JSON.stringify({ command: 'decrement' }))
  await change(6, 1, 'a WebSocket client')
  t.equal((await fetch(`${url}/mixed/reset`, { method: 'POST' })).status, 204)
  await change(8, 0, 'the page')

  // A client that leaves leaves the registry.
  other.socket.close()
  await waitFor(() => ticker.size === 2, 'the closed socket out of the registry', LIMIT)
})

test('mixed: bad commands change nothing', async (t) => {
  const app = await buildMixedApp()
  const { url, join, open } = await boot(t, app)
  const stream = await open('/mixed/updates')
  const ws = await join('/ws/ticker')
  await nthEvent(stream, 1, 'the stream\'s first state')
  await nthMessage(ws, 1, 'the socket\'s first state')

  const bad = await fetch(`${url}/mixed/explode`, { method: 'POST' })
  t.equal(bad.status, 400, 'an unknown command')
  t.equal((await bad.json() as { code?: string }).code, 'FST_ERR_VALIDATION')

  const mallory = await join('/ws/ticker')
  mallory.socket.send(JSON.stringify({ command: 'explode' }))
  t.equal((await within(mallory.closed, LIMIT, 'the close')).code, 1008, 'an unknown command over the socket: Policy Violation')

  // The next change is the first: nothing was broadcast in between.
  ws.socket.send(JSON.stringify({ command: 'increment' }))
  const next = await nthEvent(stream, 2, 'the first change')
  t.same(signalsIn(next.data), { count: 1 })
  t.same(await nthMessage(ws, 2, 'the first change at the socket'), { event: next.event, id: next.id, data: next.data })
})

test('mixed: the page loads the Datastar client, opens the stream and a WebSocket', async (t) => {
  const app = await buildMixedApp()
  const { url } = await boot(t, app)
  const html = await fetchPage(t, url, '/mixed', app)
  t.match(html, /data-init="@get\('\/mixed\/updates'\)"/)
  t.match(html, /data-on:click="@post\('\/mixed\/increment'\)"/)
  t.match(html, /new WebSocket\(/)
  t.match(html, /<p id="last">No change yet\.<\/p>/)
})
