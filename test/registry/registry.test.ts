import t from 'tap'
import { AsyncLocalStorage } from 'node:async_hooks'
import { MemoryBackplane, type Backplane, type BackplaneEvent, type BackplaneListener, type BackplaneMessage } from '../../src/registry/backplane.js'
import { Registry } from '../../src/registry/registry.js'
import { START_CURSOR } from '../../src/registry/ring.js'
import type { Subscriber } from '../../src/registry/subscriber.js'
import { SSEParser } from '../../src/sse/parser.js'
import { recordChannel, waitFor, within } from '../helpers.js'

/** A subscriber that records what it is handed, like a transport would write it. */
class Recorder implements Subscriber {
  chunks: Array<string | Buffer> = []
  isClosed = false
  lastEventId: string | undefined
  #handlers: Array<(subscriber: this) => void> = []
  constructor (lastEventId?: string) { this.lastEventId = lastEventId }
  write (encoded: string | Buffer): void { this.chunks.push(encoded) }
  onClose (handler: (subscriber: this) => void): void { this.#handlers.push(handler) }
  close (): void {
    this.isClosed = true
    for (const handler of this.#handlers.splice(0)) handler(this)
  }

  /** The events received, with ids shortened to their counter (`<start>-7` → '7'). */
  events (): Array<{ id: string, event: string, data: string }> {
    const parser = new SSEParser()
    return this.chunks.flatMap((chunk) => parser.push(chunk.toString())).map((event) => ({ ...event, id: counter(event.id) }))
  }
}

/** The counter part of an in-memory id (`<start time>-<counter>`). */
function counter (id: string): string {
  return id.split('-').at(-1) as string
}

/** The id of the n-th event of the registry that gave `sample`. */
function idAt (sample: string, n: number): string {
  return sample.replace(/-\d+$/, '-' + String(n))
}

t.test('a broadcast is encoded once: every subscriber gets the very same bytes', async (t) => {
  const registry = new Registry<Recorder>('feed')
  const a = new Recorder()
  const b = new Recorder()
  registry.add(a).add(b)
  t.equal(registry.size, 2)
  const id = await registry.patchSignals({ count: 1 })
  t.equal(counter(id), '1')
  t.match(id, /^\d+-1$/, 'ids look like Redis Stream ids: <start time>-<counter>')
  t.equal(a.chunks.length, 1)
  t.equal(a.chunks[0], b.chunks[0], 'one Buffer, handed to both')
  t.ok(Buffer.isBuffer(a.chunks[0]))
  t.same(a.events(), [{ event: 'datastar-patch-signals', data: 'signals {"count":1}', id: '1', dataLines: ['signals {"count":1}'] }])
  await registry.send({ event: 'chat', data: 'hi' })
  t.same(b.events().map((event) => event.id), ['1', '2'], 'ids increase')
})

t.test('except, filter, and unicast by key', async (t) => {
  const registry = new Registry<Recorder>('room')
  const alice = new Recorder()
  const bob = new Recorder()
  const bobOtherTab = new Recorder()
  registry.add(alice, { key: 'alice' }).add(bob, { key: 'bob' }).add(bobOtherTab, { key: 'bob' })
  t.equal(registry.get('bob').length, 2)
  await registry.patchSignals({ typing: true }, { except: alice })
  await registry.patchSignals({ vip: true }, { filter: (subscriber) => subscriber === bobOtherTab })
  await registry.to('bob').patchSignals({ private: true })
  t.same(alice.events().map((event) => event.data), [])
  t.same(bob.events().map((event) => event.data), ['signals {"typing":true}', 'signals {"private":true}'])
  t.same(bobOtherTab.events().map((event) => event.data), ['signals {"typing":true}', 'signals {"vip":true}', 'signals {"private":true}'])
})

t.test('subscribers leave when they close; delete() and get() stay consistent', async (t) => {
  const registry = new Registry<Recorder>('feed')
  const a = new Recorder()
  registry.add(a, { key: 'k' })
  a.close()
  t.equal(registry.size, 0)
  t.same(registry.get('k'), [])
  t.equal(registry.delete(a), false)
  const closed = new Recorder()
  closed.isClosed = true
  registry.add(closed)
  t.equal(registry.size, 0, 'a closed subscriber is not added')
})

t.test('10 000 subscribe/disconnect cycles leave nothing behind', async (t) => {
  const registry = new Registry<Recorder>('churn')
  for (let i = 0; i < 10_000; i++) {
    const subscriber = new Recorder()
    registry.add(subscriber, { key: `user-${i % 100}` })
    if (i % 1000 === 0) await registry.patchSignals({ i })
    subscriber.close()
  }
  t.equal(registry.size, 0)
  for (let k = 0; k < 100; k++) t.same(registry.get(`user-${k}`), [])
  t.equal(registry.waiting, 0)
})

t.test('a subscriber added during a broadcast gets none of it or all of it', async (t) => {
  const registry = new Registry<Recorder>('feed')
  const late = new Recorder()
  const first = new Recorder()
  // The first subscriber's write adds another one mid-broadcast.
  first.write = function (encoded) {
    Recorder.prototype.write.call(this, encoded)
    registry.add(late)
  }
  registry.add(first)
  await registry.patchSignals({ n: 1 })
  await registry.patchSignals({ n: 2 })
  const seen = late.events().map((event) => event.data)
  t.ok(seen.length === 1 || seen.length === 2)
  t.same(seen.at(-1), 'signals {"n":2}', 'what it got, it got whole and in order')

  const notified: Recorder[] = []
  const joiner = new Recorder()
  await registry.notify(async (subscriber) => {
    notified.push(subscriber)
    registry.add(joiner)
  })
  t.notOk(notified.includes(joiner), 'notify works on a snapshot taken when it was called')
})

t.test('notify: errors are caught per subscriber, dead ones removed and returned', async (t) => {
  const errors: Error[] = []
  const registry = new Registry<Recorder>('feed', { onError: (error) => { errors.push(error) } })
  const healthy = new Recorder()
  const broken = new Recorder()
  const gone = new Recorder()
  registry.add(healthy).add(broken).add(gone)
  gone.isClosed = true
  const reached: Recorder[] = []
  const dead = await registry.notify(async (subscriber) => {
    if (subscriber === broken) throw new Error('cannot render')
    reached.push(subscriber)
  })
  t.same(new Set(dead), new Set([broken, gone]))
  t.same(reached, [healthy])
  t.equal(registry.size, 1)
  t.match(errors, [{ message: 'cannot render' }])
})

t.test('a throwing subscriber is removed; the others still get the event', async (t) => {
  const registry = new Registry<Recorder>('feed', { onError: () => {} })
  const broken = new Recorder()
  broken.write = () => { throw new Error('socket exploded') }
  const fine = new Recorder()
  registry.add(broken).add(fine)
  await registry.patchSignals({ ok: true })
  t.equal(fine.events().length, 1)
  t.equal(registry.has(broken), false)
})

t.test('callbacks run in the async context of the subscriber, not the publisher', async (t) => {
  const context = new AsyncLocalStorage<string>()
  const registry = new Registry<Recorder>('feed', {
    replay: 2,
    onResync: (subscriber) => { subscriber.write(`data: resync for ${context.getStore()}\n\n`) }
  })
  const alice = context.run('alice', () => { const s = new Recorder(); registry.add(s); return s })
  const bob = context.run('bob', () => { const s = new Recorder(); registry.add(s); return s })
  const seen = new Map<Recorder, string | undefined>()
  await context.run('publisher', () => registry.notify((subscriber) => { seen.set(subscriber, context.getStore()) }))
  t.equal(seen.get(alice), 'alice')
  t.equal(seen.get(bob), 'bob')
  let last = ''
  for (let i = 0; i < 5; i++) last = await registry.patchSignals({ i })
  const stale = context.run('carol', () => { const s = new Recorder(idAt(last, 1)); registry.add(s); return s })
  t.same(stale.events().map((event) => event.data), ['resync for carol'], 'onResync too')
})

t.test('replay: a resuming subscriber gets what it missed, in order, then live events', async (t) => {
  const registry = new Registry<Recorder>('feed', { replay: 3 })
  let last = ''
  for (let i = 1; i <= 5; i++) last = await registry.patchSignals({ i })
  const resumed = new Recorder(idAt(last, 3))
  registry.add(resumed)
  await registry.patchSignals({ i: 6 })
  t.same(resumed.events().map((event) => event.id), ['4', '5', '6'])
  const upToDate = new Recorder(idAt(last, 6))
  registry.add(upToDate)
  t.same(upToDate.events(), [], 'nothing to replay for the newest id')
  const resyncs: string[] = []
  const withResync = new Registry<Recorder>('other', { replay: 2, onResync: (_subscriber, lastEventId) => { resyncs.push(lastEventId) } })
  let newest = ''
  for (let i = 1; i <= 5; i++) newest = await withResync.patchSignals({ i })
  withResync.add(new Recorder(idAt(newest, 1)))
  withResync.add(new Recorder(idAt(newest, 999)))
  withResync.add(new Recorder('3'))
  t.same(resyncs, [idAt(newest, 1), idAt(newest, 999), '3'], 'older than the ring, unknown, or from before a restart: onResync')
  const unicast = new Registry<Recorder>('keys')
  const first = await unicast.to('alice').patchSignals({ secret: 1 })
  await unicast.patchSignals({ open: 1 })
  const bob = new Recorder(idAt(first, 0))
  unicast.add(bob, { key: 'bob' })
  t.same(bob.events(), [], 'an id that was never given: no replay of anything, keyed or not')
  const bobAgain = new Recorder()
  unicast.add(bobAgain, { key: 'bob' })
  await unicast.to('alice').patchSignals({ secret: 2 })
  const replayed = new Recorder(first)
  unicast.add(replayed, { key: 'bob' })
  t.same(replayed.events().map((event) => event.data), ['signals {"open":1}'], 'another key\'s events are never replayed')
})

t.test('coalescing: events published in one window reach each subscriber in one write', async (t) => {
  const registry = new Registry<Recorder>('burst', { coalesce: 0 })
  const a = new Recorder()
  const b = new Recorder()
  registry.add(a).add(b, { key: 'b' })
  const published = Promise.all([registry.patchSignals({ n: 1 }), registry.patchSignals({ n: 2 }), registry.patchSignals({ n: 3 })])
  t.equal(a.chunks.length, 0, 'nothing yet: the window is open')
  const ids = await published
  t.same(ids.map(counter), ['1', '2', '3'])
  t.equal(a.chunks.length, 1, 'one write for the burst, out when the publishes resolve')
  t.equal(a.chunks[0], b.chunks[0], 'and the same bytes for everyone')
  t.same(a.events().map((event) => event.id), ['1', '2', '3'])
  const window = Promise.all([registry.patchSignals({ n: 4 }), registry.to('b').patchSignals({ n: 5 }), registry.patchSignals({ n: 6 })])
  const late = new Recorder(idAt(ids[0] as string, 2))
  registry.add(late)
  await window
  t.same(a.events().map((event) => event.id), ['1', '2', '3', '4', '6'], 'unicast events stay out, order is kept')
  t.same(b.events().map((event) => event.id), ['1', '2', '3', '4', '5', '6'])
  t.same(late.events().map((event) => event.id), ['3', '4', '6'], 'a replay during a window: no gap, no repeat')
})

t.test('long-poll: at once, held until the next event, timeout, reset, abort', async (t) => {
  const registry = new Registry<Recorder>('poll', { replay: 2 })
  t.same(await registry.poll(undefined, { timeout: 10 }), { status: 'timeout', cursor: START_CURSOR }, 'an empty registry still gives a cursor to come back with')
  const held = registry.poll(undefined, { timeout: 60_000 })
  t.equal(registry.waiting, 1)
  const one = await registry.patchSignals({ n: 1 })
  const answered = await held
  t.equal(answered.status, 'events')
  t.equal(registry.waiting, 0)
  if (answered.status === 'events') {
    t.equal(answered.cursor, one)
    t.ok(answered.events.toString().startsWith(`id: ${one}\nevent: datastar-patch-signals`))
  }
  const two = await registry.patchSignals({ n: 2 })
  const immediate = await registry.poll(one)
  t.match(immediate, { status: 'events', cursor: two })
  await registry.patchSignals({ n: 3 })
  const four = await registry.patchSignals({ n: 4 })
  t.same(await registry.poll(one), { status: 'reset', cursor: four }, 'older than the ring')
  const controller = new AbortController()
  const aborted = registry.poll(four, { signal: controller.signal, timeout: 60_000 })
  t.equal(registry.waiting, 1)
  controller.abort()
  t.same(await aborted, { status: 'aborted', cursor: four })
  t.equal(registry.waiting, 0, 'the waiter is gone at once')
  const keyed = registry.poll(four, { key: 'k', timeout: 60_000 })
  const plain = registry.poll(four, { timeout: 50 })
  const five = await registry.to('k').patchSignals({ n: 5 })
  t.match(await keyed, { status: 'events', cursor: five })
  t.match(await plain, { status: 'timeout' }, 'another key\'s unicast does not answer it')
  await registry.close()
  t.same(await registry.poll(five), { status: 'timeout', cursor: five })
  t.rejects(registry.patchSignals({ late: true }), { code: 'FST_ERR_REGISTRY_CLOSED' })
  t.throws(() => registry.add(new Recorder()), { code: 'FST_ERR_REGISTRY_CLOSED' })
})

t.test('long-poll during a coalescing window: the events up to the cursor given, each once', async (t) => {
  const registry = new Registry<Recorder>('poll-window', { coalesce: 0 })
  const one = await registry.patchSignals({ n: 1 })
  const two = await registry.patchSignals({ n: 2 })
  const inWindow = registry.patchSignals({ n: 3 })
  const first = await registry.poll(one)
  const three = await inWindow
  t.match(first, { status: 'events', cursor: two })
  t.same(first.status === 'events' && new SSEParser().push(first.events.toString()).map((event) => event.id), [two], 'not the event still in the window')
  const second = await registry.poll(first.cursor)
  t.match(second, { status: 'events', cursor: three })
  t.same(second.status === 'events' && new SSEParser().push(second.events.toString()).map((event) => event.id), [three], 'it comes with the flush, once')
})

t.test('close() answers waiters and clears members', async (t) => {
  const registry = new Registry<Recorder>('closing')
  registry.add(new Recorder())
  const waiting = registry.poll(undefined, { timeout: 60_000 })
  await registry.close()
  t.match(await waiting, { status: 'timeout' })
  t.equal(registry.size, 0)
  t.equal(registry.waiting, 0)
})

t.test('bad options are coded errors', async (t) => {
  t.throws(() => new Registry('x', { replay: -1 }), { code: 'FST_ERR_REGISTRY_INVALID_OPTION' })
  t.throws(() => new Registry('x', { coalesce: 'soon' as unknown as number }), { code: 'FST_ERR_REGISTRY_INVALID_OPTION' })
})

t.test('a filtered broadcast stays on its node, out of replay, and carries no id', async (t) => {
  // Two registries on one backplane stand for two nodes.
  const backplane = new MemoryBackplane()
  const nodeA = new Registry<Recorder>('feed', { backplane })
  const nodeB = new Registry<Recorder>('feed', { backplane })
  const onA = new Recorder()
  const onB = new Recorder()
  nodeA.add(onA)
  nodeB.add(onB)
  const open = await nodeA.patchSignals({ open: 1 })
  await nodeA.patchSignals({ secret: 1 }, { filter: (subscriber) => subscriber === onA })
  t.same(onA.events().map((event) => event.data), ['signals {"open":1}', 'signals {"secret":1}'])
  t.same(onA.events().map((event) => event.id), [counter(open), counter(open)], 'the filtered event has no id of its own')
  t.same(onB.events().map((event) => event.data), ['signals {"open":1}'], 'the other node cannot run the filter: it delivers nothing')
  const resumed = new Recorder(open)
  nodeA.add(resumed)
  t.same(resumed.events(), [], 'nor is it replayed')
  t.same(await nodeA.poll(open, { timeout: 10 }), { status: 'timeout', cursor: open }, 'nor given to long-poll')
})

t.test('lastEventId is the newest written event', async (t) => {
  const registry = new Registry<Recorder>('cursor', { coalesce: 0 })
  t.equal(registry.lastEventId, undefined)
  const published = registry.patchSignals({ n: 1 })
  t.equal(registry.lastEventId, undefined, 'not before the coalesced write')
  const id = await published
  t.equal(registry.lastEventId, id, 'the publish resolves once it is written')
})

t.test('in memory with coalesce: false, an event is written before its broadcast method returns', async (t) => {
  const registry = new Registry<Recorder>('sync', { coalesce: false })
  const subscriber = new Recorder()
  registry.add(subscriber)
  const sent = registry.patchSignals({ n: 1 })
  t.equal(subscriber.chunks.length, 1, 'written before the promise is awaited')
  t.equal(registry.lastEventId, await sent)
})

/**
 * A third backplane, as an application could write one: in memory, but
 * delivering later (as over a network), ids `1`, `2`, … It keeps what it
 * delivered as a log; HistoryBackplane offers that log through since().
 */
class LogBackplane implements Backplane {
  readonly log: BackplaneEvent[] = []
  readonly #listeners = new Set<BackplaneListener>()
  #sequence = 0

  async publish (_channel: string, message: BackplaneMessage): Promise<string> {
    const event: BackplaneEvent = { ...message, id: String(++this.#sequence) }
    setImmediate(() => {
      this.log.push(event)
      for (const listener of this.#listeners) listener(event)
    })
    return event.id
  }

  async subscribe (_channel: string, listener: BackplaneListener): Promise<() => Promise<void>> {
    this.#listeners.add(listener)
    return async () => { this.#listeners.delete(listener) }
  }

  compare (a: string, b: string): number {
    return Number(a) - Number(b)
  }

  async close (): Promise<void> {}
}

class HistoryBackplane extends LogBackplane {
  // Only what was delivered is in the log, as since() requires.
  async since (_channel: string, id: string): Promise<BackplaneEvent[] | undefined> {
    const at = this.log.findIndex((event) => event.id === id)
    return at === -1 ? undefined : this.log.slice(at + 1)
  }
}

t.test('a third backplane with since(): a resume older than the ring is served from its history', async (t) => {
  const backplane = new HistoryBackplane()
  const resyncs: string[] = []
  const onResync = (_subscriber: Recorder, lastEventId: string): void => { resyncs.push(lastEventId) }
  const nodeA = new Registry<Recorder>('feed', { backplane, replay: 2, onResync })
  const ids: string[] = []
  for (let n = 1; n <= 5; n++) ids.push(await nodeA.patchSignals({ n }))
  await waitFor(() => nodeA.lastEventId === ids[4], 'delivered on A')
  // A node that has just started: its ring is empty.
  const nodeB = new Registry<Recorder>('feed', { backplane, replay: 2, onResync })
  const onB = new Recorder(ids[1])
  nodeB.add(onB)
  ids.push(await nodeA.patchSignals({ n: 6 }))
  await waitFor(() => onB.events().length === 4, 'the missed events and the live one on B')
  t.same(onB.events().map((event) => event.id), ['3', '4', '5', '6'], 'from the history, then live: no gap, no repeat')
  // On A, older than its ring (5 and 6): the history, then the ring.
  const onA = new Recorder(ids[0])
  nodeA.add(onA)
  await waitFor(() => onA.events().length === 5, 'the missed events on A')
  t.same(onA.events().map((event) => event.id), ['2', '3', '4', '5', '6'])
  t.same(resyncs, [], 'nobody needed the full state')
  nodeA.add(new Recorder('0'))
  await waitFor(() => resyncs.length === 1, 'onResync')
  t.same(resyncs, ['0'], 'older than the history too: onResync')
  await Promise.all([nodeA.close(), nodeB.close()])
})

t.test('a backplane without since(): a resume older than the ring resyncs at once', async (t) => {
  const backplane: Backplane = new LogBackplane()
  const resyncs: string[] = []
  const registry = new Registry<Recorder>('feed', { backplane, replay: 2, onResync: (_subscriber, lastEventId) => { resyncs.push(lastEventId) } })
  const ids: string[] = []
  for (let n = 1; n <= 5; n++) ids.push(await registry.patchSignals({ n }))
  await waitFor(() => registry.lastEventId === ids[4], 'delivered')
  const stale = new Recorder(ids[0])
  registry.add(stale)
  t.same(resyncs, [ids[0]], 'within add()')
  t.equal(registry.has(stale), true, 'and it stays for live events')
  const recent = new Recorder(ids[3])
  registry.add(recent)
  t.same(recent.events().map((event) => event.id), ['5'], 'the ring still serves recent ids')
  await registry.close()
})

t.test('a broadcast carries the registry\'s id only: an eventId among its options is dropped, wherever the options sit', async (t) => {
  const registry = new Registry('ids')
  const everyone = new Recorder()
  const keyed = new Recorder()
  registry.add(everyone)
  registry.add(keyed, { key: 'k' })
  const ids = [
    await registry.patchElements('<p id="a">1</p>', { eventId: 'mine', mode: 'inner' }),
    // dispatchCustomEvent takes its options third: the stripping follows them there.
    await registry.dispatchCustomEvent('saved', { n: 1 }, { eventId: 'mine', selector: '#a' }),
    await registry.to('k').patchSignals({ n: 2 }, { eventId: 'mine', onlyIfMissing: true })
  ]
  const text = keyed.chunks.join('')
  t.equal(text.match(/^id: /gm)?.length, 3, 'one id line per event')
  t.notMatch(text, /id: mine/, 'never the caller\'s')
  t.same(keyed.events().map((event) => event.id), ids.map(counter), 'each the id the publish resolved with')
  t.match(text, /data: mode inner\n/, 'the other options still apply')
  t.match(text, /querySelectorAll\(\\?"#a\\?"\)|querySelectorAll\("#a"\)/, 'the custom event keeps its selector')
  t.match(text, /data: onlyIfMissing true\n/)
  t.equal(everyone.events().length, 2, 'the keyed event reached its key only')
  await registry.close()
})

t.test('a registry\'s removals take the view-transition options too', async (t) => {
  const registry = new Registry('removals')
  const subscriber = new Recorder()
  registry.add(subscriber)
  await registry.removeElements('#row', { useViewTransition: true, viewTransitionSelector: '#table' })
  await registry.to('nobody').removeElementsById(['a'], { useViewTransition: true })
  await registry.removeElementsById(['b'], { useViewTransition: true })
  const [bySelector, byId] = subscriber.events()
  t.equal(subscriber.events().length, 2, 'the keyed removal reached its key only')
  t.equal(bySelector?.data, 'selector #row\nmode remove\nuseViewTransition true\nviewTransitionSelector #table')
  t.equal(byId?.data, 'mode remove\nuseViewTransition true\nelements <div id="b"></div>')
  await registry.close()
})

/** A backplane that refuses the first `failures` subscriptions, as Redis does while it is down. */
class RefusingBackplane extends LogBackplane {
  refusals: number
  attempts = 0
  constructor (refusals: number) {
    super()
    this.refusals = refusals
  }

  override async subscribe (channel: string, listener: BackplaneListener): Promise<() => Promise<void>> {
    this.attempts++
    if (this.attempts <= this.refusals) throw new Error(`backplane down (attempt ${this.attempts})`)
    return await super.subscribe(channel, listener)
  }
}

t.test('a subscription the backplane refuses is retried until it holds; the registry says when it is connected', async (t) => {
  const backplane = new RefusingBackplane(2)
  const errors: string[] = []
  const registry = new Registry<Recorder>('feed', { backplane, onError: (error) => { errors.push(error.message) } })
  t.equal(registry.connected, false)
  const subscriber = new Recorder()
  registry.add(subscriber)
  await within(registry.ready(), 5000, 'subscribed after the refusals')
  t.equal(registry.connected, true)
  t.equal(backplane.attempts, 3, 'two refusals, then the subscription')
  t.same(errors, ['backplane down (attempt 1)', 'backplane down (attempt 2)'], 'each refusal reported')
  await registry.patchSignals({ n: 1 })
  await waitFor(() => subscriber.events().length === 1, 'delivered once connected')
  await registry.close()
  t.equal(registry.connected, false, 'not after close()')
})

t.test('close() stops a subscription being retried, at once and with no timer left', async (t) => {
  const backplane = new RefusingBackplane(Infinity)
  const registry = new Registry('feed', { backplane, onError: () => {} })
  await waitFor(() => backplane.attempts >= 2, 'retrying')
  const before = process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
  await within(registry.close(), 1000, 'close() does not wait for the backplane')
  const attempts = backplane.attempts
  t.ok(process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length < before, 'the retry timer is cleared')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(backplane.attempts, attempts, 'no attempt after close()')
  await t.rejects(registry.ready(), { code: 'FST_ERR_REGISTRY_CLOSED' }, 'ready() says it never connected')
})

t.test('long-poll from the start cursor: a client that saw nothing gets every event kept, or a reset when some fell out', async (t) => {
  const empty = new Registry('empty', { replay: 3 })
  t.same(await empty.poll('1700000000000-7', { timeout: 10 }), { status: 'reset', cursor: START_CURSOR }, 'a stale cursor on an empty registry (after a restart): reset, with a cursor')
  const ids = [await empty.patchSignals({ n: 1 }), await empty.patchSignals({ n: 2 })]
  const fromStart = await empty.poll(START_CURSOR, { timeout: 10 })
  t.equal(fromStart.status, 'events')
  t.equal(fromStart.cursor, ids[1])
  t.same(new SSEParser().push(fromStart.status === 'events' ? fromStart.events.toString() : '').map((event) => event.id), ids, 'both events, in order')
  await empty.patchSignals({ n: 3 })
  await empty.patchSignals({ n: 4 })
  t.match(await empty.poll(START_CURSOR, { timeout: 10 }), { status: 'reset' }, 'the first event fell out of the ring: the client must reload')
  await empty.close()
  const unkept = new Registry('unkept', { replay: 0 })
  await unkept.patchSignals({ n: 1 })
  t.match(await unkept.poll(START_CURSOR, { timeout: 10 }), { status: 'reset' }, 'with replay off, events since the start cannot be replayed')
  await unkept.close()
})

t.test('long-poll: a cursor older than the ring is answered from the backplane\'s history, as a resuming stream is', async (t) => {
  const backplane = new HistoryBackplane()
  const registry = new Registry('feed', { backplane, replay: 2 })
  const ids: string[] = []
  for (let n = 1; n <= 5; n++) ids.push(await registry.patchSignals({ n }))
  await waitFor(() => registry.lastEventId === ids[4], 'delivered')
  const result = await registry.poll(ids[1], { timeout: 10 })
  t.equal(result.status, 'events')
  t.equal(result.cursor, ids[4])
  const events = new SSEParser().push(result.status === 'events' ? result.events.toString() : '')
  t.same(events.map((event) => event.id), ids.slice(2), 'the history\'s events older than the ring, then the ring\'s: no gap, no repeat')
  t.match(await registry.poll('999', { timeout: 10 }), { status: 'reset', cursor: ids[4] }, 'a cursor the history lacks too: reset')
  await registry.close()

  // Without a history (in memory), the same cursor is a reset.
  const memory = new Registry('feed', { replay: 2 })
  const memoryIds: string[] = []
  for (let n = 1; n <= 5; n++) memoryIds.push(await memory.patchSignals({ n }))
  t.match(await memory.poll(memoryIds[1], { timeout: 10 }), { status: 'reset' })
  await memory.close()
})

t.test('registry:broadcast says how many events, subscribers and bytes each write had; stats() adds them up', async (t) => {
  const broadcasts = recordChannel(t, 'fastify-datastar:registry:broadcast')
  const registry = new Registry<Recorder>('stats', { coalesce: 0 })
  const [a, b] = [new Recorder(), new Recorder()]
  registry.add(a).add(b)
  t.same(registry.stats(), { members: 2, events: 0, bytes: 0, slowConsumerCloses: 0, replays: 0, resyncs: 0 })
  // Three events in one turn: one coalesced write of all three.
  await Promise.all([registry.patchSignals({ n: 1 }), registry.patchSignals({ n: 2 }), registry.patchSignals({ n: 3 })])
  await waitFor(() => broadcasts.length === 1, 'the coalesced write')
  const written = Buffer.byteLength(a.chunks.join(''))
  t.same(broadcasts, [{ registry, events: 3, subscribers: 2, bytes: written }])
  await registry.patchSignals({ n: 4 }, { except: b })
  await waitFor(() => broadcasts.length === 2, 'the write past the excepted subscriber')
  const fourth = Buffer.byteLength(a.chunks.at(-1) as string | Buffer)
  t.match(broadcasts[1], { events: 1, subscribers: 1, bytes: fourth })
  t.same(registry.stats(), { members: 2, events: 4, bytes: 2 * written + fourth, slowConsumerCloses: 0, replays: 0, resyncs: 0 }, 'bytes handed to subscribers: each write times its subscribers')
  a.close()
  t.equal(registry.stats().members, 1)
  t.equal(registry.stats().slowConsumerCloses, 0, 'a subscriber that closed by itself is not a slow consumer')
  await registry.close()
})

t.test('registry:replay and registry:resync: from the ring, from the backplane\'s history, and past both; stats() counts them', async (t) => {
  const replays = recordChannel(t, 'fastify-datastar:registry:replay')
  const resyncs = recordChannel(t, 'fastify-datastar:registry:resync')
  const backplane = new HistoryBackplane()
  const registry = new Registry<Recorder>('resume', { backplane, replay: 2 })
  const ids: string[] = []
  for (let n = 1; n <= 4; n++) ids.push(await registry.patchSignals({ n }))
  await waitFor(() => registry.lastEventId === ids[3], 'delivered')
  const fromRing = new Recorder(ids[2])
  registry.add(fromRing)
  t.same(replays, [{ registry, subscriber: fromRing, lastEventId: ids[2], events: 1, bytes: Buffer.byteLength(fromRing.chunks.join('')) }], 'from the ring: the one event missed')
  const fromHistory = new Recorder(ids[0])
  registry.add(fromHistory)
  await waitFor(() => replays.length === 2, 'the history read')
  t.match(replays[1], { subscriber: fromHistory, lastEventId: ids[0], events: 3, bytes: Buffer.byteLength(fromHistory.chunks.join('')) }, 'older than the ring: from the history')
  const lost = new Recorder('0')
  registry.add(lost)
  await waitFor(() => resyncs.length === 1, 'the resync')
  t.same(resyncs, [{ registry, subscriber: lost, lastEventId: '0' }], 'older than the history too, with or without onResync')
  t.match(registry.stats(), { members: 3, replays: 2, resyncs: 1 })
  await registry.close()
})

t.test('registry:backplane reports each refused subscription, the one that holds, and the end at close()', async (t) => {
  const states = recordChannel(t, 'fastify-datastar:registry:backplane')
  const registry = new Registry('feed', { backplane: new RefusingBackplane(1), onError: () => {} })
  await within(registry.ready(), 5000, 'subscribed after the refusal')
  t.match(states, [{ registry, connected: false, error: { message: 'backplane down (attempt 1)' } }, { registry, connected: true, error: undefined }])
  await registry.close()
  t.equal(states.length, 3)
  t.same(states[2], { registry, connected: false, error: undefined })
})

/**
 * Nodes on one shared log, each hearing it only when the test lets it (a node
 * behind Redis): since() answers, as Redis does, with what that node heard
 * after an id the log has, and `undefined` for an id the log lacks.
 */
class LaggingBackplane implements Backplane {
  readonly #log: BackplaneEvent[]
  #heard = 0
  #listener: BackplaneListener | undefined

  constructor (log: BackplaneEvent[]) {
    this.#log = log
  }

  async publish (_channel: string, message: BackplaneMessage): Promise<string> {
    const event: BackplaneEvent = { ...message, id: String(this.#log.length + 1) }
    this.#log.push(event)
    return event.id
  }

  async subscribe (_channel: string, listener: BackplaneListener): Promise<() => Promise<void>> {
    this.#listener = listener
    return async () => { this.#listener = undefined }
  }

  /** Delivers what the log has that this node has not heard yet. */
  catchUp (): void {
    while (this.#heard < this.#log.length) this.#listener?.(this.#log[this.#heard++] as BackplaneEvent)
  }

  async since (_channel: string, id: string): Promise<BackplaneEvent[] | undefined> {
    if (!this.#log.some((event) => event.id === id)) return undefined
    return this.#log.slice(0, this.#heard).filter((event) => this.compare(event.id, id) > 0)
  }

  // The start cursor, 0-0, is 0.
  compare (a: string, b: string): number {
    return parseInt(a) - parseInt(b)
  }

  async close (): Promise<void> {}
}

t.test('a client never receives an id at or below one it has: on a node behind the one it left, or still coalescing', async (t) => {
  const log: BackplaneEvent[] = []
  const resyncs: string[] = []
  const onResync = (_subscriber: Recorder, lastEventId: string): void => { resyncs.push(lastEventId) }
  const backplaneA = new LaggingBackplane(log)
  const backplaneB = new LaggingBackplane(log)
  const nodeA = new Registry<Recorder>('feed', { backplane: backplaneA, replay: 4, coalesce: false, onResync })
  const nodeB = new Registry<Recorder>('feed', { backplane: backplaneB, replay: 4, coalesce: false, onResync })
  await Promise.all([nodeA.ready(), nodeB.ready()])
  const onA = new Recorder()
  nodeA.add(onA)
  for (let n = 1; n <= 3; n++) await nodeA.patchSignals({ n })
  backplaneA.catchUp()
  backplaneB.catchUp()
  for (let n = 4; n <= 5; n++) await nodeA.patchSignals({ n })
  backplaneA.catchUp()
  t.same(onA.events().map((event) => event.id), ['1', '2', '3', '4', '5'], 'A is up to date')
  // The client moves to B, which has heard 3 events of the 5 it saw.
  const onB = new Recorder('5')
  nodeB.add(onB)
  await waitFor(() => nodeB.has(onB), 'B looked its id up in the history')
  await nodeA.patchSignals({ n: 6 })
  backplaneB.catchUp()
  t.same(onB.events().map((event) => event.id), ['6'], 'B catches up: only what comes after the client\'s id')
  t.same(resyncs, [], 'its id is known: no resync')

  // A node that heard the client's id but has not written it yet (its coalescing window is open).
  const coalescing = new LaggingBackplane(log)
  const nodeC = new Registry<Recorder>('feed', { backplane: coalescing, replay: 4, coalesce: 0, onResync })
  await nodeC.ready()
  await nodeA.patchSignals({ n: 7 })
  coalescing.catchUp()
  const onC = new Recorder('7')
  nodeC.add(onC)
  await new Promise((resolve) => setImmediate(resolve))
  await nodeA.patchSignals({ n: 8 })
  coalescing.catchUp()
  await new Promise((resolve) => setImmediate(resolve))
  t.same(onC.events().map((event) => event.id), ['8'], 'the window\'s events up to its id are not written to it')
  t.same(resyncs, [], 'no resync either')
  await Promise.all([nodeA.close(), nodeB.close(), nodeC.close()])
})

t.test('long-poll on a node behind the client\'s cursor, or still coalescing it: nothing up to the cursor, which never goes back', async (t) => {
  const log: BackplaneEvent[] = []
  const backplaneA = new LaggingBackplane(log)
  const backplaneB = new LaggingBackplane(log)
  const nodeA = new Registry('feed', { backplane: backplaneA })
  const nodeB = new Registry('feed', { backplane: backplaneB })
  await Promise.all([nodeA.ready(), nodeB.ready()])
  for (let n = 1; n <= 3; n++) await nodeA.patchSignals({ n })
  backplaneA.catchUp()
  backplaneB.catchUp()
  for (let n = 4; n <= 5; n++) await nodeA.patchSignals({ n })
  backplaneA.catchUp()
  // The client polled A up to 5; B has written 3.
  t.same(await nodeB.poll('5', { timeout: 10 }), { status: 'timeout', cursor: '5' }, 'a timeout gives the client\'s cursor back, not B\'s older one')
  const held = nodeB.poll('5', { timeout: 60_000 })
  await waitFor(() => nodeB.waiting === 1, 'B looked the cursor up in the history, and holds the request')
  await nodeA.patchSignals({ n: 6 })
  backplaneB.catchUp()
  const answer = await held
  t.equal(answer.cursor, '6')
  t.same(new SSEParser().push(answer.status === 'events' ? answer.events.toString() : '').map((event) => event.id), ['6'], 'only what comes after the cursor')

  const coalescing = new LaggingBackplane(log)
  const nodeC = new Registry('feed', { backplane: coalescing, coalesce: 0 })
  await nodeC.ready()
  await nodeA.patchSignals({ n: 7 })
  coalescing.catchUp()
  // 7 is in C's ring, not written yet.
  const waiting = nodeC.poll('7', { timeout: 60_000 })
  t.equal(nodeC.waiting, 1, 'held')
  await new Promise((resolve) => setImmediate(resolve))
  await nodeA.patchSignals({ n: 8 })
  coalescing.catchUp()
  const later = await waiting
  t.same(new SSEParser().push(later.status === 'events' ? later.events.toString() : '').map((event) => event.id), ['8'], 'the window\'s events up to the cursor are not answered')
  t.equal(later.cursor, '8')
  await Promise.all([nodeA.close(), nodeB.close(), nodeC.close()])
})
