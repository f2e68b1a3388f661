/**
 * The Redis backplane against a real redis-server (started by the tests on a
 * free loopback port, never a mock): stream ids, two nodes, history, Fastify
 * apps on one Redis, a Redis crash and restart, and what close() leaves.
 */
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import datastar, { type DatastarStream } from '../../plugins/index.js'
import { RedisBackplane } from '../../src/registry/redis.js'
import { Registry } from '../../src/registry/registry.js'
import type { Subscriber } from '../../src/registry/subscriber.js'
import type { BackplaneEvent } from '../../src/registry/backplane.js'
import { SSEParser, type ParsedEvent } from '../../src/sse/parser.js'
import { listen, openStream, waitFor, within, type StreamClient } from '../helpers.js'
import { compareIds, connections, freePort, noConnectionsLeft, redisSkip, sockets, startRedis, timers } from './redis-server.js'
import { startProxy } from './tcp-proxy.js'

const skip = await redisSkip()
if (skip !== false) t.plan(0, skip)

/** A backplane closed at teardown. */
function backplane (t: Test, url: string, options: ConstructorParameters<typeof RedisBackplane>[0] = {}): RedisBackplane {
  const created = new RedisBackplane({ redis: url, ...options })
  t.teardown(() => created.close())
  return created
}

/** A node: a Fastify app on 127.0.0.1 whose registries share Redis; GET /<name> subscribes to registry <name>. */
async function node (t: Test, url: string): Promise<{ app: FastifyInstance, base: string }> {
  // Streams the test leaves open must not hold app.close().
  const app = Fastify({ forceCloseConnections: true })
  await app.register(datastar, { compression: false, registry: { backplane: new RedisBackplane({ redis: url }) } })
  app.get<{ Params: { name: string } }>('/:name', async (request, reply) => {
    app.registry(request.params.name).add(reply.datastar({ keepAlive: false }))
  })
  t.teardown(() => app.close())
  return { app, base: await listen(app) }
}

/** The `n` of each patch-signals event a client received. */
function numbers (events: ParsedEvent[]): unknown[] {
  return events.map((event) => JSON.parse(event.data.replace(/^signals /, '')).n)
}

/** Resolves once `client` has `count` events. */
async function events (client: StreamClient, count: number, what: string): Promise<ParsedEvent[]> {
  await within(client.event(count - 1), 10_000, what)
  return client.events.slice(0, count)
}

/** A subscriber that records what it is handed. */
class Recorder implements Subscriber {
  chunks: Buffer[] = []
  isClosed = false
  readonly lastEventId: string | undefined
  constructor (lastEventId?: string) { this.lastEventId = lastEventId }
  write (encoded: string | Buffer): void { this.chunks.push(Buffer.from(encoded)) }
  onClose (): void {}
  events (): ParsedEvent[] {
    return new SSEParser().push(Buffer.concat(this.chunks).toString())
  }
}

t.test('publish resolves with increasing stream ids; options are checked', async (t) => {
  const redis = await startRedis(t)
  const bus = backplane(t, redis.url)
  const ids: string[] = []
  for (let i = 0; i < 20; i++) ids.push(await bus.publish('ids', { payload: `data: ${i}\n\n` }))
  t.ok(ids.every((id) => /^\d+-\d+$/.test(id)), 'Redis stream ids')
  t.ok(ids.every((id, i) => i === 0 || bus.compare(ids[i - 1] as string, id) < 0), 'each greater than the one before')
  t.ok(bus.compare('9-0', '10-0') < 0, 'numeric, not lexicographic')
  t.ok(bus.compare('5-10', '5-9') > 0)
  t.equal(bus.compare('5-1', '5-1'), 0)
  t.equal(await redis.command('XLEN', 'fastify-datastar:ids'), ':20\r\n', 'one stream per channel, under the prefix')
  t.throws(() => new RedisBackplane({ maxLength: 0 }), { code: 'FST_ERR_REGISTRY_INVALID_OPTION' })
  t.throws(() => new RedisBackplane({ blockMs: -1 }), { code: 'FST_ERR_REGISTRY_INVALID_OPTION' })
})

t.test('two backplanes on one Redis see each other\'s events, in order; origin stays on its node', async (t) => {
  const redis = await startRedis(t)
  const a = backplane(t, redis.url)
  // A long block: only the wake entry can make B's loop take up a new channel within the test's bounds.
  const b = backplane(t, redis.url, { blockMs: 60_000 })
  const seenA: BackplaneEvent[] = []
  const seenB: BackplaneEvent[] = []
  await a.subscribe('chat', (event) => seenA.push(event))
  const stopB = await b.subscribe('chat', (event) => seenB.push(event))
  // Published right after subscribe() resolved: none may be missed.
  const published = await Promise.all(Array.from({ length: 10 }, (_, i) =>
    (i % 2 === 0 ? a : b).publish('chat', { payload: `data: ${i}\n\n`, origin: String(i) })))
  await waitFor(() => seenA.length === 10 && seenB.length === 10, 'both received all ten', 10_000)
  const sorted = [...published].sort((x, y) => a.compare(x, y))
  t.same(seenA.map((event) => event.id), sorted, 'A: in stream order')
  t.same(seenB.map((event) => event.id), sorted, 'B: the same order')
  t.same(seenA.map((event) => event.payload), seenB.map((event) => event.payload))
  for (const event of seenA) {
    const i = Number(/data: (\d+)/.exec(event.payload)?.[1])
    t.equal(event.origin, i % 2 === 0 ? String(i) : undefined, 'origin only for A\'s own publishes')
  }
  // Several channels on one blocking loop; a new channel interrupts the XREAD at once.
  const other: string[] = []
  await b.subscribe('other', (event) => other.push(event.payload))
  await a.publish('other', { payload: 'data: x\n\n', key: 'k' })
  await waitFor(() => other.length === 1, 'the second channel', 10_000)
  await stopB()
  await a.publish('chat', { payload: 'data: after\n\n' })
  await waitFor(() => seenA.length === 11, 'A still listens', 10_000)
  t.equal(seenB.length, 10, 'B stopped listening to chat')
})

t.test('ioredis\' keyPrefix and the prefix option name the streams together', async (t) => {
  const redis = await startRedis(t)
  const bus = backplane(t, redis.url, { redis: { host: '127.0.0.1', port: redis.port, keyPrefix: 'app:' }, prefix: 'events:' })
  t.equal(bus.prefix, 'app:events:')
  const seen: string[] = []
  await bus.subscribe('feed', (event) => seen.push(event.id))
  const id = await bus.publish('feed', { payload: 'data: 1\n\n' })
  await waitFor(() => seen.length === 1, 'the event, read back under the prefixed name', 10_000)
  t.same(seen, [id])
  t.equal(await redis.command('XLEN', 'app:events:feed'), ':1\r\n')
  t.same((await bus.since('feed', id))?.length, 0)
})

t.test('since(): the events after an id, exclusive; undefined when unknown', async (t) => {
  const redis = await startRedis(t)
  const bus = backplane(t, redis.url)
  const ids: string[] = []
  for (let i = 0; i < 5; i++) ids.push(await bus.publish('history', { payload: `data: ${i}\n\n`, key: i === 3 ? 'bob' : undefined }))
  const after = await bus.since('history', ids[1] as string)
  t.same(after?.map((event) => event.id), ids.slice(2))
  t.same(after?.map((event) => event.payload), ['data: 2\n\n', 'data: 3\n\n', 'data: 4\n\n'])
  t.equal(after?.[1]?.key, 'bob', 'the unicast key comes back')
  t.same(await bus.since('history', ids[4] as string), [], 'nothing after the newest')
  t.same((await bus.since('history', ids[0] as string))?.length, 4, 'from the first entry')
  t.equal(await bus.since('history', 'not-an-id'), undefined, 'not a stream id')
  t.equal(await bus.since('history', '1-0'), undefined, 'older than the first entry')
  t.equal(await bus.since('history', `${BigInt((ids[4] as string).split('-')[0] as string) + 1000n}-0`), undefined,
    'an id the stream never gave (a made-up one, or one of a stream that restarted empty)')
  t.equal(await bus.since('empty', ids[0] as string), undefined, 'an empty stream knows no id')
})

t.test('since() of an id trimmed from the stream (MAXLEN ~) is undefined', async (t) => {
  const redis = await startRedis(t)
  const bus = backplane(t, redis.url, { maxLength: 10 })
  const ids: string[] = []
  for (let i = 0; i < 400; i++) ids.push(await bus.publish('short', { payload: `data: ${i}\n\n` }))
  const length = Number((await redis.command('XLEN', 'fastify-datastar:short')).slice(1))
  t.ok(length < 400, `trimmed to about maxLength (${length} entries left)`)
  t.equal(await bus.since('short', ids[0] as string), undefined, 'trimmed')
  t.same((await bus.since('short', ids[398] as string))?.map((event) => event.id), [ids[399]], 'recent ids still answer')
})

t.test('two Fastify nodes on one Redis: a broadcast on A reaches an SSE client on B', async (t) => {
  const redis = await startRedis(t)
  const a = await node(t, redis.url)
  const b = await node(t, redis.url)
  const client = await openStream(b.base + '/feed')
  await waitFor(() => b.app.registry('feed').size === 1, 'subscribed on B')
  await b.app.registry('feed').ready()
  const id = await a.app.registry('feed').patchSignals({ n: 1 })
  const [event] = await events(client, 1, 'the broadcast from A')
  t.equal(event?.event, 'datastar-patch-signals')
  t.equal(event?.data, 'signals {"n":1}')
  t.equal(event?.id, id, 'the id is the Redis stream id, the same on every node')
  await a.app.registry('feed').to('carol').patchSignals({ n: 2 })
  await b.app.registry('feed').patchSignals({ n: 3 })
  t.same(numbers(await events(client, 2, 'B\'s own broadcast')), [1, 3], 'the unicast to another key did not reach it')
})

t.test('a client resuming on B with a Last-Event-ID seen on A gets exactly what came after', async (t) => {
  const redis = await startRedis(t)
  const a = await node(t, redis.url)
  const b = await node(t, redis.url)
  // B's `feed` registry listens from the start (B's ring has the events);
  // B's `news` registry is first used by the resuming client (B's ring is
  // empty: the events come from the Redis stream, through since()).
  await b.app.registry('feed').ready()
  for (const name of ['feed', 'news']) {
    const registry = a.app.registry<DatastarStream>(name)
    const first = await openStream(a.base + '/' + name)
    await waitFor(() => registry.size === 1, 'subscribed on A')
    for (let n = 1; n <= 3; n++) await registry.patchSignals({ n })
    const seen = await events(first, 3, 'the first three on A')
    first.destroy()
    await waitFor(() => registry.size === 0, 'gone from A')
    for (let n = 4; n <= 5; n++) await registry.patchSignals({ n })
    const resumed = await openStream(b.base + '/' + name, { headers: { 'last-event-id': (seen[1] as ParsedEvent).id } })
    t.same(numbers(await events(resumed, 3, `${name}: the missed events`)), [3, 4, 5], `${name}: exactly the events after it`)
    await waitFor(() => b.app.registry(name).size === 1, 'joined B')
    await registry.patchSignals({ n: 6 })
    const all = await events(resumed, 4, `${name}: then live`)
    t.same(numbers(all), [3, 4, 5, 6], `${name}: then live events, no gap, no repeat`)
    t.equal(all[0]?.id, seen[2]?.id, `${name}: the same id on both nodes`)
    resumed.destroy()
  }
})

t.test('a resume from Redis history while events keep coming: no gap, no repeat', async (t) => {
  const redis = await startRedis(t)
  const publisher = backplane(t, redis.url)
  const ids: string[] = []
  for (let n = 0; n < 5; n++) ids.push(await publisher.publish('race', { payload: `data: ${n}\n\n` }))
  for (let round = 0; round < 10; round++) {
    // A node that has just started: its registry's ring is empty.
    const registry = new Registry<Recorder>('race', { backplane: backplane(t, redis.url) })
    const subscriber = new Recorder(ids[2])
    registry.add(subscriber)
    // Published while the registry subscribes and reads the history.
    const live = await Promise.all(Array.from({ length: 5 }, (_, i) => publisher.publish('race', { payload: `data: live ${round} ${i}\n\n` })))
    ids.push(...live)
    await waitFor(() => subscriber.events().length === ids.length - 3, `round ${round}: every event`, 10_000)
    t.same(subscriber.events().map((event) => event.id), ids.slice(3), `round ${round}: the missed events then the live ones, each once`)
    await registry.close()
  }
})

t.test('live events that arrive while the history is read come after it, once', async (t) => {
  const redis = await startRedis(t)
  const publisher = backplane(t, redis.url)
  const ids: string[] = []
  for (let n = 0; n < 5; n++) ids.push(await publisher.publish('held', { payload: `data: ${n}\n\n` }))
  // since() answers only once the live events have reached the registry.
  const held = new HeldSince({ redis: redis.url })
  t.teardown(() => held.close())
  const registry = new Registry<Recorder>('held', { backplane: held })
  t.teardown(() => registry.close())
  const subscriber = new Recorder(ids[1])
  registry.add(subscriber)
  await waitFor(() => held.asked, 'since() was asked', 10_000)
  for (let n = 0; n < 3; n++) ids.push(await publisher.publish('held', { payload: `data: live ${n}\n\n` }))
  await waitFor(() => held.delivered === 3, 'the live events reached the registry', 10_000)
  t.equal(subscriber.chunks.length, 0, 'held meanwhile')
  held.release()
  await waitFor(() => subscriber.events().length >= ids.length - 2, 'the missed and live events', 10_000)
  t.same(subscriber.events().map((event) => event.id), ids.slice(2), 'the missed events, then the live ones, each once')
  ids.push(await publisher.publish('held', { payload: 'data: later\n\n' }))
  await waitFor(() => subscriber.events().length === ids.length - 2, 'a later event', 10_000)
  t.equal(subscriber.events().at(-1)?.id, ids.at(-1), 'then live as usual')
})

/** A backplane whose since() answers only when released, once the history has been read. */
class HeldSince extends RedisBackplane {
  asked = false
  delivered = 0
  release: () => void = () => {}
  readonly #released = new Promise<void>((resolve) => { this.release = resolve })

  override subscribe (channel: string, listener: (event: BackplaneEvent) => void): Promise<() => Promise<void>> {
    return super.subscribe(channel, (event) => {
      this.delivered++
      listener(event)
    })
  }

  override async since (channel: string, id: string): Promise<BackplaneEvent[] | undefined> {
    const events = await super.since(channel, id)
    this.asked = true
    await this.#released
    return events
  }
}

t.test('a resume older than the Redis stream calls onResync', async (t) => {
  const redis = await startRedis(t)
  const a = await node(t, redis.url)
  const b = await node(t, redis.url)
  const resyncs: string[] = []
  b.app.registry<DatastarStream>('feed', {
    onResync: (sse, lastEventId) => {
      resyncs.push(lastEventId)
      sse.patchSignals({ n: 'full state' })
    }
  })
  await a.app.registry('feed').patchSignals({ n: 1 })
  const client = await openStream(b.base + '/feed', { headers: { 'last-event-id': '1-0' } })
  t.same(numbers(await events(client, 1, 'the full state')), ['full state'])
  t.same(resyncs, ['1-0'])
})

t.test('redis-server killed and restarted mid-stream, with persistence: a client resuming with Last-Event-ID misses nothing', async (t) => {
  // Redis keeps its streams in an append-only file, so after the restart each
  // stream still holds the last entry every node read: nothing was lost.
  // Publishes made while Redis is down wait in ioredis' offline queue and get
  // their ids after the restart; ids keep increasing (they are Redis' clock in
  // ms), and each node's read loop resumes after the last id it delivered. A
  // client resuming on any node with the id of an event from before the crash
  // then gets every event after it, from the ring, the rest as they come.
  const redis = await startRedis(t, { persistence: true })
  const a = await node(t, redis.url)
  const b = await node(t, redis.url)
  const feedA = a.app.registry('feed')
  const feedB = b.app.registry('feed')
  await feedA.ready()
  await feedB.ready()
  const steady = await openStream(a.base + '/feed')
  const leaving = await openStream(b.base + '/feed')
  await waitFor(() => feedA.size === 1 && feedB.size === 1, 'subscribed on both nodes')

  const before = [await feedA.patchSignals({ n: 1 }), await feedB.patchSignals({ n: 2 })]
  const seen = await events(leaving, 2, 'before the crash')
  const lastSeen = (seen[1] as ParsedEvent).id
  leaving.destroy()
  await waitFor(() => feedB.size === 0, 'the client left B')

  await redis.kill()
  // Published on both nodes while Redis is down.
  const during = [feedA.patchSignals({ n: 3 }), feedB.patchSignals({ n: 4 })]
  await redis.restart()
  const duringIds = await within(Promise.all(during), 20_000, 'the queued publishes, after the restart')
  const afterId = await feedA.patchSignals({ n: 5 })
  // The two nodes' queued publishes reach the new Redis in either order.
  const expected = [
    { id: before[0] as string, n: 1 },
    { id: before[1] as string, n: 2 },
    ...[{ id: duringIds[0] as string, n: 3 }, { id: duringIds[1] as string, n: 4 }].sort((x, y) => compareIds(x.id, y.id)),
    { id: afterId, n: 5 }
  ]
  t.ok(expected.every((entry, i) => i === 0 || compareIds((expected[i - 1] as { id: string }).id, entry.id) < 0), 'ids keep increasing across the restart')
  const stayed = await events(steady, 5, 'the client that stayed connected')
  t.same(stayed.map((event) => event.id), expected.map((entry) => entry.id), 'a connected client got everything, in order')

  let n = 6
  for (const [name, base, registry] of [['B', b.base, feedB], ['A', a.base, feedA]] as const) {
    const members = registry.size
    const resumed = await openStream(base + '/feed', { headers: { 'last-event-id': lastSeen } })
    const missed = expected.slice(2)
    const got = await events(resumed, missed.length, `${name}: the events after the last one seen`)
    t.same(got.map((event) => event.id), missed.map((entry) => entry.id), `${name}: every event after it, in order`)
    t.same(numbers(got), missed.map((entry) => entry.n))
    await waitFor(() => registry.size === members + 1, `${name}: joined`)
    const id = await feedB.patchSignals({ n })
    t.same(numbers(await events(resumed, missed.length + 1, `${name}: then live`)).at(-1), n, `${name}: then live, no repeat`)
    t.equal(resumed.events.length, missed.length + 1)
    expected.push({ id, n: n++ })
    resumed.destroy()
    await waitFor(() => feedA.size + feedB.size === 1, 'only the steady client left')
  }
})

t.test('redis-server killed and restarted without persistence: every node resyncs its subscribers and waiters, and replays nothing across the gap', async (t) => {
  // The restart empties the streams. No node can tell whether it read every
  // entry before the crash (one Redis acknowledged may have reached a node and
  // not another), so none replays across the gap: its subscribers, long-poll
  // waiters, and clients resuming from an id before the crash get a resync.
  const redis = await startRedis(t)
  const a = await node(t, redis.url)
  const b = await node(t, redis.url)
  const resyncs: string[] = []
  const onResync = (name: string) => (sse: DatastarStream): void => {
    resyncs.push(name)
    sse.patchSignals({ n: 'full state' })
  }
  const feedA = a.app.registry<DatastarStream>('feed', { onResync: onResync('A') })
  const feedB = b.app.registry<DatastarStream>('feed', { onResync: onResync('B') })
  await feedA.ready()
  await feedB.ready()
  const connected = await openStream(a.base + '/feed')
  await waitFor(() => feedA.size === 1, 'subscribed on A')
  const before = await feedA.patchSignals({ n: 1 })
  await waitFor(() => feedA.lastEventId === before && feedB.lastEventId === before, 'delivered on both nodes')
  const waiter = feedB.poll(before, { timeout: 60_000 })
  t.equal(feedB.waiting, 1, 'a long-poll waits on B')

  await redis.kill()
  await redis.restart()
  t.match(await within(waiter, 15_000, 'the waiter, once B is back'), { status: 'reset' }, 'the waiter is told to reload')
  await within(connected.event(1), 15_000, 'the connected client\'s resync')
  t.same(resyncs, ['A'], 'the connected client is resynced')
  t.equal(feedA.lastEventId, undefined, 'the registry starts over: no id until the next event')
  const resumed = await openStream(b.base + '/feed', { headers: { 'last-event-id': before } })
  t.same(numbers(await events(resumed, 1, 'a resume from before the crash')), ['full state'], 'a resume across the gap resyncs')
  const resumedOnA = await openStream(a.base + '/feed', { headers: { 'last-event-id': before } })
  t.same(numbers(await events(resumedOnA, 1, 'a resume from before the crash, on the node that had it')), ['full state'], 'even where the ring had the id')
  t.match(await feedB.poll(before, { timeout: 10 }), { status: 'reset', cursor: '0-0' }, 'a long-poll from before the crash: reset, from the start')
  await waitFor(() => feedA.size === 2 && feedB.size === 1, 'joined')
  await feedB.patchSignals({ n: 2 })
  t.same(numbers(await events(connected, 3, 'a live event after the restart')), [1, 'full state', 2], 'then live events, as before')
  t.same(numbers(await events(resumed, 2, 'live on B')), ['full state', 2])
  t.same(numbers(await events(resumedOnA, 2, 'live on A')), ['full state', 2])
  for (const client of [connected, resumed, resumedOnA]) client.destroy()
})

t.test('a publish that cannot reach Redis rejects with FST_ERR_REGISTRY_BACKPLANE; close() still ends everything', async (t) => {
  const port = await freePort()
  const before = { timers: timers(), sockets: sockets() }
  const bus = new RedisBackplane({ redis: { host: '127.0.0.1', port, maxRetriesPerRequest: 0 } })
  const errors: Error[] = []
  const logged = new RedisBackplane({ redis: { host: '127.0.0.1', port, maxRetriesPerRequest: 0 }, onError: (error) => errors.push(error) })
  await t.rejects(within(bus.publish('feed', { payload: 'data: x\n\n' }), 10_000, 'the publish'), { code: 'FST_ERR_REGISTRY_BACKPLANE' })
  await t.rejects(within(logged.subscribe('feed', () => {}), 10_000, 'the subscribe'), { code: 'FST_ERR_REGISTRY_BACKPLANE' })
  t.ok(errors.some((error) => /ECONNREFUSED/.test(error.message)), 'connection errors go to onError')
  await within(Promise.all([bus.close(), logged.close()]), 5000, 'close() while Redis is unreachable')
  await t.rejects(bus.publish('feed', { payload: 'data: y\n\n' }), { code: 'FST_ERR_REGISTRY_BACKPLANE' }, 'closed')
  t.ok(timers() <= before.timers, 'no reconnection timer left')
  t.ok(sockets() <= before.sockets, 'no socket left')
})

t.test('app.close() leaves no Redis connection and no timer', async (t) => {
  const redis = await startRedis(t)
  const before = { timers: timers(), sockets: sockets() }
  const app = Fastify({ forceCloseConnections: true })
  await app.register(datastar, { compression: false, registry: { backplane: new RedisBackplane({ redis: redis.url }) } })
  app.get('/feed', async (_request, reply) => { app.registry('feed').add(reply.datastar({ keepAlive: false })) })
  const base = await listen(app)
  const client = await openStream(base + '/feed')
  await waitFor(() => app.registry('feed').size === 1, 'subscribed')
  await app.registry('feed').patchSignals({ n: 1 })
  await events(client, 1, 'an event')
  t.equal(await connections(redis), 2, 'a backplane holds two connections: commands and the blocking read')
  await within(app.close(), 5000, 'app.close()')
  await within(client.ended, 5000, 'the stream ended')
  t.ok(timers() <= before.timers, 'no timer left')
  t.ok(sockets() <= before.sockets, 'no socket left')
  await noConnectionsLeft(redis)
  t.pass('no connection left in CLIENT LIST')
  t.equal((await redis.command('KEYS', 'fastify-datastar:__wake__:*')).trim(), '*0', 'the wake stream was deleted')
})

t.test('a node started while Redis is down subscribes once Redis is back, and says so', async (t) => {
  const redis = await startRedis(t)
  await redis.kill()
  // Fail each command fast, so the registry's own retries are what brings it back.
  const late = backplane(t, redis.url, { redis: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: 1, retryStrategy: () => 50 } })
  const errors: Error[] = []
  const registry = new Registry<Subscriber>('late', { backplane: late, onError: (error) => { errors.push(error) } })
  t.teardown(() => registry.close())
  await waitFor(() => errors.length >= 2, 'subscribe refused twice while Redis is down', 10_000)
  t.equal(registry.connected, false)
  t.match(errors[0], { code: 'FST_ERR_REGISTRY_BACKPLANE' })
  await redis.restart()
  await within(registry.ready(), 15_000, 'subscribed once Redis is back')
  t.equal(registry.connected, true)
  const received: string[] = []
  registry.add({ write: (bytes) => { received.push(String(bytes)) }, onClose: () => {}, isClosed: false })
  const other = new Registry('late', { backplane: backplane(t, redis.url) })
  t.teardown(() => other.close())
  await other.ready()
  await other.patchSignals({ n: 1 })
  await waitFor(() => received.length === 1, 'an event from another node arrives')
  t.match(received[0], /"n":1/)
})

t.test('long-poll on a node whose ring lacks the cursor is served from the Redis stream, as an SSE client is', async (t) => {
  const redis = await startRedis(t)
  const publisher = new Registry('feed', { backplane: backplane(t, redis.url) })
  t.teardown(() => publisher.close())
  const app = Fastify()
  await app.register(datastar, { compression: false, registry: { backplane: new RedisBackplane({ redis: redis.url }), replay: 2 } })
  app.get('/poll', (_request, reply) => reply.longPoll('feed', { timeout: 200 }))
  t.teardown(() => app.close())
  const base = await listen(app)
  await app.registry('feed').ready()
  const ids: string[] = []
  for (let n = 1; n <= 5; n++) ids.push(await publisher.patchSignals({ n }))
  await waitFor(() => app.registry('feed').lastEventId === ids[4], 'delivered on the polling node')
  const response = await fetch(`${base}/poll?cursor=${encodeURIComponent(ids[1] as string)}`)
  t.equal(response.status, 200, 'not a 205: the stream still has it')
  t.equal(response.headers.get('x-registry-cursor'), ids[4])
  const events = new SSEParser().push(await response.text())
  t.same(events.map((event) => event.id), ids.slice(2), 'what came after the cursor, in order, once')
  t.same(numbers(events), [3, 4, 5])
})

t.test('exactly once through Redis: a publish whose answer a cut connection lost is not stored twice', async (t) => {
  const redis = await startRedis(t)
  const proxy = await startProxy(t, redis.port)
  // The publishing node reaches Redis through the proxy; the reading node directly.
  const publisher = backplane(t, `redis://127.0.0.1:${proxy.port}`)
  const reader = new Registry<Subscriber>('chaos', { backplane: backplane(t, redis.url) })
  t.teardown(() => reader.close())
  await reader.ready()
  const received: string[] = []
  reader.add({ write: (bytes) => { received.push(String(bytes)) }, onClose: () => {}, isClosed: false })
  const cut = proxy.cutAfter('fastify-datastar:chaos')
  const first = await within(publisher.publish('chaos', { payload: 'event: x\ndata: 1\n\n' }), 15_000, 'the publish, resent after the cut')
  await cut
  t.ok(proxy.connections >= 2, 'ioredis reconnected and resent the command')
  const second = await publisher.publish('chaos', { payload: 'event: x\ndata: 2\n\n' })
  await waitFor(() => received.length >= 2, 'both events on the reading node')
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(await redis.command('XLEN', 'fastify-datastar:chaos'), ':2\r\n', 'two entries in the stream, not three')
  t.same(received.map((text) => /^id: (\S+)/.exec(text)?.[1]), [first, second], 'each event once, with the id its publish resolved with')
  const history = await publisher.since('chaos', first)
  t.same(history?.map((event) => event.id), [second], 'and once in the history')
})
