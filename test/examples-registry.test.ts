/**
 * Smoke test of the registry examples, over real sockets of 127.0.0.1: the
 * CQRS example (one read stream per tab, commands by POST, fat morph to all,
 * unicast to the requester) and the event-sourcing example (every appended
 * event broadcast, replay by Last-Event-ID, full state when too far behind).
 *
 * "Only A received it" is proved by order, not by waiting: a stream delivers
 * its events in order, so when a later broadcast arrives right after the
 * earlier one, nothing was delivered in between.
 */
import { test, type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { ParsedEvent } from 'fastify-datastar/core'
import { buildCqrsApp } from '../examples/cqrs.js'
import { buildEventSourcingApp } from '../examples/event-sourcing.js'
import { fetchPage, listen, openStream, within, type StreamClient, type StreamRequest } from './helpers.js'

/** The bound of every wait (a failure message, never a measurement). */
const LIMIT = 5000

interface Harness {
  url: string
  /** Opens an event stream that is destroyed at teardown. */
  open: (path: string, request?: StreamRequest) => Promise<StreamClient>
}

/** Listens on 127.0.0.1:0; at teardown, destroys every stream opened, then closes the app. */
async function boot (t: Test, app: FastifyInstance): Promise<Harness> {
  const clients: StreamClient[] = []
  t.teardown(async () => {
    for (const client of clients) client.destroy()
    await app.close()
  })
  const url = await listen(app)
  return {
    url,
    open: async (path, request = {}) => {
      const client = await within(openStream(url + path, { ...request, headers: { 'datastar-request': 'true', ...request.headers } }), LIMIT, `the head of ${path}`)
      clients.push(client)
      return client
    }
  }
}

/** The `index`-th event of a stream, within the bound. */
function nth (client: StreamClient, index: number, what: string): Promise<ParsedEvent> {
  return within(client.event(index), LIMIT, what)
}

/** Sends signals as the Datastar client does: a JSON body and the Datastar-Request header. */
function command (url: string, method: string, signals: unknown): Promise<Response> {
  return fetch(url, {
    method,
    headers: { 'content-type': 'application/json', 'datastar-request': 'true' },
    body: JSON.stringify(signals)
  })
}

/** The HTML of a datastar-patch-elements event. */
function elementsOf (event: ParsedEvent): string {
  return event.dataLines.filter((line) => line.startsWith('elements ')).map((line) => line.slice('elements '.length)).join('\n')
}

/** The signals of a datastar-patch-signals event. */
function signalsOf (event: ParsedEvent): unknown {
  const line = event.dataLines.find((l) => l.startsWith('signals '))
  return line === undefined ? undefined : JSON.parse(line.slice('signals '.length))
}

/** A short name for each event type, to compare sequences. */
function kinds (events: readonly ParsedEvent[]): string[] {
  return events.map((event) => event.event.replace(/^datastar-patch-/, ''))
}

// ---------------------------------------------------------------- CQRS

/** The read stream of a tab whose session id is `sessionId` (signals in the query, as @get sends them). */
function updatesPath (sessionId: string): string {
  return `/cqrs/updates?datastar=${encodeURIComponent(JSON.stringify({ sessionId, draft: '' }))}`
}

test('cqrs: a command from tab A is morphed into both tabs, and only A gets its draft cleared', async (t) => {
  const { url, open } = await boot(t, await buildCqrsApp())

  const a = await open(updatesPath('tab-a'))
  const b = await open(updatesPath('tab-b'))
  t.equal(a.status, 200)
  t.match(a.headers['content-type'], /^text\/event-stream/)

  // Each stream starts with the whole view.
  for (const [name, client] of [['A', a], ['B', b]] as const) {
    const view = await nth(client, 0, `${name}'s first view`)
    t.equal(view.event, 'datastar-patch-elements')
    t.match(elementsOf(view), /^<main id="app">/)
    t.match(elementsOf(view), /0 of 0 left/)
  }

  // A adds a todo; user text is escaped in the view.
  const added = await command(`${url}/cqrs/todos`, 'POST', { sessionId: 'tab-a', draft: '<b>"Milk" & eggs</b>' })
  t.equal(added.status, 204)
  const morphA = await nth(a, 1, 'the fat morph at A')
  const morphB = await nth(b, 1, 'the fat morph at B')
  t.equal(morphA.event, 'datastar-patch-elements')
  t.equal(morphA.data, morphB.data, 'both tabs get the same view')
  t.equal(morphA.id, morphB.id, 'one broadcast: one event id')
  const html = elementsOf(morphA)
  t.match(html, /^<main id="app">[\s\S]*<\/main>$/, 'the whole <main id="app">')
  t.match(html, /<li id="todo-1">/)
  t.ok(html.includes('&lt;b&gt;&quot;Milk&quot; &amp; eggs&lt;/b&gt;'), 'the text is escaped')
  t.notOk(html.includes('<b>'), 'no markup from the user')
  t.match(html, /1 of 1 left/)
  const clearA = await nth(a, 2, 'the unicast at A')
  t.equal(clearA.event, 'datastar-patch-signals')
  t.same(signalsOf(clearA), { draft: '' })

  // B adds one: B's draft is cleared, not A's.
  t.equal((await command(`${url}/cqrs/todos`, 'POST', { sessionId: 'tab-b', draft: 'Bread' })).status, 204)
  t.match(elementsOf(await nth(b, 2, 'the second morph at B')), /<li id="todo-2">/)
  t.same(signalsOf(await nth(b, 3, 'the unicast at B')), { draft: '' })
  t.match(elementsOf(await nth(a, 3, 'the second morph at A')), /2 of 2 left/)

  // A toggles todo 1: a broadcast with no unicast.
  t.equal((await command(`${url}/cqrs/todos/1/toggle`, 'POST', { sessionId: 'tab-a', draft: '' })).status, 204)
  const toggledA = await nth(a, 4, 'the toggle morph at A')
  const toggledB = await nth(b, 4, 'the toggle morph at B')
  t.match(elementsOf(toggledA), /<li id="todo-1" class="done">/)
  t.match(elementsOf(toggledA), /1 of 2 left/)
  t.equal(toggledA.data, toggledB.data)

  // Each stream got its own unicast and nothing of the other's, in order.
  t.same(kinds(a.events), ['elements', 'elements', 'signals', 'elements', 'elements'], 'A: view, morph, its clear, morph, morph')
  t.same(kinds(b.events), ['elements', 'elements', 'elements', 'signals', 'elements'], 'B: view, morph, morph, its clear, morph')

  // DELETE as the Datastar client sends it (signals in a JSON body).
  t.equal((await command(`${url}/cqrs/todos/2`, 'DELETE', { sessionId: 'tab-b', draft: '' })).status, 204)
  for (const [name, client] of [['A', a], ['B', b]] as const) {
    const morph = elementsOf(await nth(client, 5, `the delete morph at ${name}`))
    t.notMatch(morph, /todo-2/)
    t.match(morph, /0 of 1 left/, 'todo 1, done, is all that is left')
  }
  const gone = await command(`${url}/cqrs/todos/2`, 'DELETE', { sessionId: 'tab-b', draft: '' })
  t.equal(gone.status, 404)
  t.equal((await command(`${url}/cqrs/todos/99/toggle`, 'POST', { sessionId: 'tab-b', draft: '' })).status, 404)
})

test('cqrs: a bad command is a 400 FST_ERR_VALIDATION and changes nothing', async (t) => {
  const { url, open } = await boot(t, await buildCqrsApp())
  const a = await open(updatesPath('tab-a'))
  await nth(a, 0, 'the first view')

  const bad: Array<[string, string, unknown]> = [
    ['/cqrs/todos', 'an empty draft', { sessionId: 'tab-a', draft: '' }],
    ['/cqrs/todos', 'a blank draft', { sessionId: 'tab-a', draft: '   ' }],
    ['/cqrs/todos', 'no session id', { draft: 'Milk' }],
    ['/cqrs/todos', 'a draft that is not a string', { sessionId: 'tab-a', draft: { text: 'Milk' } }],
    ['/cqrs/todos/1/toggle', 'no session id', { draft: '' }]
  ]
  for (const [path, what, signals] of bad) {
    const response = await command(url + path, 'POST', signals)
    t.equal(response.status, 400, `${path}: ${what}`)
    const body = await response.json() as { code?: string, message?: string }
    t.equal(body.code, 'FST_ERR_VALIDATION', `${path}: ${what}`)
    t.match(body.message, /signals/)
  }
  const badId = await command(`${url}/cqrs/todos/x/toggle`, 'POST', { sessionId: 'tab-a', draft: '' })
  t.equal(badId.status, 400, 'an :id that is not a number')
  t.equal((await badId.json() as { code?: string }).code, 'FST_ERR_VALIDATION')

  // The read stream needs a session id too.
  const noSession = await fetch(`${url}/cqrs/updates`, { headers: { 'datastar-request': 'true' } })
  t.equal(noSession.status, 400)
  t.equal((await noSession.json() as { code?: string }).code, 'FST_ERR_VALIDATION')

  // Nothing was broadcast and no id was used: the next event is the first todo.
  t.equal((await command(`${url}/cqrs/todos`, 'POST', { sessionId: 'tab-a', draft: 'Milk' })).status, 204)
  const morph = elementsOf(await nth(a, 1, 'the first morph'))
  t.match(morph, /<li id="todo-1">/)
  t.match(morph, /1 of 1 left/)
})

test('cqrs: the page loads the client, opens the read stream and binds the draft', async (t) => {
  const app = await buildCqrsApp()
  const { url } = await boot(t, app)

  const html = await fetchPage(t, url, '/cqrs', app)
  t.match(html, /data-init="@get\('\/cqrs\/updates'\)"/)
  t.match(html, /data-signals="\{&quot;sessionId&quot;:&quot;[0-9a-f-]{36}&quot;,&quot;draft&quot;:&quot;&quot;\}"/)
  t.match(html, /<input data-bind:draft/)
  t.match(html, /data-on:click="@post\('\/cqrs\/todos'\)"/)
  t.match(html, /<main id="app">/)

  // Every tab gets its own session id.
  const id = (page: string): string | undefined => /sessionId&quot;:&quot;([0-9a-f-]+)/.exec(page)?.[1]
  const again = await (await fetch(`${url}/cqrs`)).text()
  t.not(id(html), id(again), 'two loads, two session ids')
})

// ---------------------------------------------------------------- event sourcing

const EVENTS = '/ledger/events'

async function deposit (url: string, amount: number, memo = ''): Promise<unknown> {
  const response = await command(`${url}/ledger/deposit`, 'POST', { amount, memo, error: '' })
  if (response.status !== 200) throw new Error(`deposit ${amount}: ${response.status} ${await response.text()}`)
  return response.json()
}

async function withdraw (url: string, amount: number): Promise<unknown> {
  const response = await command(`${url}/ledger/withdraw`, 'POST', { amount, memo: '', error: '' })
  if (response.status !== 200) throw new Error(`withdraw ${amount}: ${response.status} ${await response.text()}`)
  return response.json()
}

/** One domain event as a client sees it: its two patches under one SSE id. */
interface Seen {
  id: string
  seq: number
  line: string
  totals: string
}

/** Reads the domain event whose patches start at `index` (the statement line, then #totals). */
async function domainEvent (t: Test, client: StreamClient, index: number, what: string): Promise<Seen> {
  const line = await nth(client, index, `${what}: its statement line`)
  const totals = await nth(client, index + 1, `${what}: its totals`)
  t.equal(line.event, 'datastar-patch-elements', `${what}: a patch`)
  t.ok(line.dataLines.includes('selector #statement') && line.dataLines.includes('mode append'), `${what}: appended to #statement`)
  t.equal(line.id, totals.id, `${what}: one SSE id for both patches`)
  t.match(elementsOf(totals), /^<p id="totals">/, `${what}: the totals follow`)
  const seq = /<li id="entry-(\d+)"/.exec(elementsOf(line))?.[1]
  return { id: line.id, seq: Number(seq), line: elementsOf(line), totals: elementsOf(totals) }
}

test('event sourcing: appended events are broadcast; a reconnect gets exactly what it missed', async (t) => {
  const { url, open } = await boot(t, await buildEventSourcingApp())

  // A new client starts from the full state (empty, so no id yet).
  const first = await open(EVENTS)
  t.equal(first.status, 200)
  const initial = await nth(first, 0, 'the initial state')
  t.match(elementsOf(initial), /^<section id="ledger">/)
  t.match(elementsOf(initial), /<output id="balance">0<\/output>/)
  t.equal(initial.id, '', 'nothing appended yet: no id')

  t.same(await deposit(url, 100), { error: '' })
  t.same(await deposit(url, 50, '<script>alert(1)</script>'), { error: '' })
  t.same(await withdraw(url, 30), { error: '' })
  const seen = [
    await domainEvent(t, first, 1, 'event 1'),
    await domainEvent(t, first, 3, 'event 2'),
    await domainEvent(t, first, 5, 'event 3')
  ]
  t.same(seen.map((e) => e.seq), [1, 2, 3], 'in order')
  t.equal(new Set(seen.map((e) => e.id)).size, 3, 'one id per domain event')
  t.match(seen[0]?.line, /deposited \+100 → 100/)
  t.match(seen[1]?.line, /deposited \+50 <q>&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/q> → 150/)
  t.match(seen[2]?.line, /withdrawn −30 → 120/)
  t.match(seen[2]?.totals, /<output id="balance">120<\/output>/)

  // A rejected command appends nothing.
  t.match(await withdraw(url, 1000), { error: /Insufficient funds/ })
  const log = await (await fetch(`${url}/ledger/log`)).json() as { events: unknown[], account: { balance: number, version: number } }
  t.equal(log.events.length, 3)
  t.same(log.account, { balance: 120, deposited: 150, withdrawn: 30, version: 3 }, 'the read model is the fold of the log')

  // Reconnecting after event 1: events 2 and 3, in order, and nothing else.
  const resumed = await open(EVENTS, { headers: { 'last-event-id': seen[0]?.id as string } })
  const replayed = [await domainEvent(t, resumed, 0, 'replayed 2'), await domainEvent(t, resumed, 2, 'replayed 3')]
  t.same(replayed.map((e) => [e.id, e.seq]), [[seen[1]?.id, 2], [seen[2]?.id, 3]], 'exactly the missed events')
  t.equal(replayed[1]?.line, seen[2]?.line, 'the same bytes as delivered live')

  // A live event follows the replay directly: nothing was repeated or left out.
  await deposit(url, 5)
  const live = await domainEvent(t, resumed, 4, 'live event 4')
  t.equal(live.seq, 4)
  t.equal((await domainEvent(t, first, 7, 'event 4 at the first client')).id, live.id)
  t.same(kinds(resumed.events), Array(6).fill('elements'))

  // Up to date: nothing to replay; the next event is the next live one.
  const current = await open(EVENTS, { headers: { 'last-event-id': live.id } })
  await deposit(url, 1)
  t.equal((await domainEvent(t, current, 0, 'event 5 at an up-to-date client')).seq, 5)
})

test('event sourcing: an unknown or too old Last-Event-ID gets the full state (onResync)', async (t) => {
  // A ring of two events, to fall behind it quickly.
  const { url, open } = await boot(t, await buildEventSourcingApp({}, { replay: 2 }))
  const watcher = await open(EVENTS)
  await nth(watcher, 0, 'the initial state')
  for (const amount of [10, 20, 30, 40]) await deposit(url, amount)
  const seen: Seen[] = []
  for (let n = 0; n < 4; n++) seen.push(await domainEvent(t, watcher, 1 + 2 * n, `event ${n + 1}`))
  const head = seen[3]?.id as string

  // The ring holds events 3 and 4: after event 1, the missed event 2 is gone.
  const behind: Array<[string, string]> = [[seen[0]?.id as string, 'too old'], ['no-such-id', 'unknown']]
  for (const [lastEventId, what] of behind) {
    const client = await open(EVENTS, { headers: { 'last-event-id': lastEventId } })
    const full = await nth(client, 0, `the full state (${what})`)
    t.equal(full.event, 'datastar-patch-elements', what)
    const html = elementsOf(full)
    t.match(html, /^<section id="ledger">/, `${what}: the whole ledger`)
    t.same([...html.matchAll(/<li id="entry-(\d+)"/g)].map((m) => Number(m[1])), [1, 2, 3, 4], `${what}: every event folded in`)
    t.match(html, /<output id="balance">100<\/output>/, what)
    t.equal(full.id, head, `${what}: stamped with the newest id, to resume from`)
  }

  // After event 3 the ring still has what was missed: a replay, not the full state.
  const close = await open(EVENTS, { headers: { 'last-event-id': seen[2]?.id as string } })
  const missed = await domainEvent(t, close, 0, 'the one missed event')
  t.same([missed.id, missed.seq], [head, 4])

  // Resuming from the full state's id continues with live events only.
  const resync = await open(EVENTS, { headers: { 'last-event-id': head } })
  await deposit(url, 1)
  t.equal((await domainEvent(t, resync, 0, 'the next live event')).seq, 5)
})

test('event sourcing: bad commands are a 400 FST_ERR_VALIDATION; the page shows the read model', async (t) => {
  const app = await buildEventSourcingApp()
  const { url } = await boot(t, app)

  for (const signals of [{ amount: 0 }, { amount: 'ten' }, {}, { amount: 1.5 }]) {
    const response = await command(`${url}/ledger/deposit`, 'POST', signals)
    t.equal(response.status, 400, JSON.stringify(signals))
    t.equal((await response.json() as { code?: string }).code, 'FST_ERR_VALIDATION')
  }
  await deposit(url, 42, 'tea & <cake>')

  const response = await fetch(`${url}/ledger`)
  t.equal(response.status, 200)
  const html = await response.text()
  t.ok(html.includes(`<script type="module" src="${app.datastarUrl()}"></script>`), 'the client script tag')
  t.match(html, /data-init="@get\('\/ledger\/events'\)"/)
  t.match(html, /data-bind:amount/)
  t.match(html, /data-on:click="@post\('\/ledger\/deposit'\)"/)
  t.match(html, /<output id="balance">42<\/output>/)
  t.match(html, /<li id="entry-1"[^>]*>#1 deposited \+42 <q>tea &amp; &lt;cake&gt;<\/q> → 42<\/li>/)
})
