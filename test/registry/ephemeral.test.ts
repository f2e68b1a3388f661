/**
 * Ephemeral messages of the backplanes (`publishEphemeral`,
 * `subscribeEphemeral`): in memory, and through a real redis-server started
 * on a free loopback port (bytes kept exactly, one publisher's order, every
 * node listening gets them, listeners released, a restart survived), and a
 * backplane shared by two plugins is closed once.
 */
import t from 'tap'
import { closeBackplaneOnce, hasEphemeral, MemoryBackplane, type Backplane } from '../../src/registry/backplane.js'
import { RedisBackplane } from '../../src/registry/redis.js'
import { waitFor, within } from '../helpers.js'
import { connections, noConnectionsLeft, redisSkip, sockets, startRedis, timers } from './redis-server.js'

const skip = await redisSkip()
const LIMIT = 10_000

/** Every byte value, twice: what a binary message may hold. */
const ALL_BYTES = Buffer.from([...Array(512).keys()].map((index) => index % 256))

t.test('in memory: every listener of the channel gets the payload before publishEphemeral() returns; stop() releases it', async (t) => {
  const backplane = new MemoryBackplane()
  t.ok(hasEphemeral(backplane))
  const got: string[] = []
  const listener = (payload: Buffer): void => { got.push(payload.toString()) }
  const stopFirst = await backplane.subscribeEphemeral('room', listener)
  const stopSecond = await backplane.subscribeEphemeral('room', listener)
  await backplane.subscribeEphemeral('other', () => { got.push('other') })
  const stored: string[] = []
  await backplane.subscribe('room', (event) => { stored.push(event.payload) })
  t.equal(backplane.ephemeralListeners, 3)
  const published = backplane.publishEphemeral('room', Buffer.from('hi'))
  t.same(got, ['hi', 'hi'], 'the same function subscribed twice is two listeners, called at once')
  await published
  t.same(stored, [], 'ephemeral channels are apart from the channels of publish()')
  await stopFirst()
  await stopFirst()
  await backplane.publishEphemeral('room', Buffer.from('again'))
  t.same(got, ['hi', 'hi', 'again'], 'a second stop() of the same subscription changes nothing')
  await stopSecond()
  t.equal(backplane.ephemeralListeners, 1)
  await backplane.close()
  t.equal(backplane.ephemeralListeners, 0, 'close() releases every listener')
})

t.test('a backplane without ephemeral messages says so', async (t) => {
  const bare: Backplane = {
    publish: async () => '1-1',
    subscribe: async () => async () => {},
    compare: (a, b) => a.localeCompare(b),
    close: async () => {}
  }
  t.notOk(hasEphemeral(bare))
})

t.test('closeBackplaneOnce(): however many plugins ask, close() runs once', async (t) => {
  let closes = 0
  const backplane = new MemoryBackplane()
  const close = backplane.close.bind(backplane)
  backplane.close = async () => { closes++; await close() }
  await Promise.all([closeBackplaneOnce(backplane), closeBackplaneOnce(backplane)])
  await closeBackplaneOnce(backplane)
  t.equal(closes, 1)
})

t.test('through Redis', { skip }, async (t) => {
  t.test('every node listening gets one publisher\'s messages, in order, byte for byte; the subscriber connection is made on first need', async (t) => {
    const redis = await startRedis(t)
    const a = new RedisBackplane({ redis: redis.url })
    const b = new RedisBackplane({ redis: redis.url })
    t.teardown(() => Promise.all([a.close(), b.close()]))
    await a.publish('warm', { payload: 'x' })
    await b.publish('warm', { payload: 'x' })
    t.equal(await connections(redis), 4, 'two connections each until an ephemeral subscription')
    const atA: Buffer[] = []
    const atB: Buffer[] = []
    await a.subscribeEphemeral('room', (payload) => { atA.push(payload) })
    await b.subscribeEphemeral('room', (payload) => { atB.push(payload) })
    t.equal(await connections(redis), 6, 'a third connection, in subscriber mode, per backplane')
    const COUNT = 200
    const sent: Array<Promise<void>> = []
    for (let n = 0; n < COUNT; n++) sent.push(a.publishEphemeral('room', Buffer.from(String(n))))
    await Promise.all(sent)
    await a.publishEphemeral('room', ALL_BYTES)
    await waitFor(() => atA.length === COUNT + 1 && atB.length === COUNT + 1, 'every message at both nodes', LIMIT)
    for (const [name, got] of [['A (its own)', atA], ['B', atB]] as const) {
      t.same(got.slice(0, COUNT).map(String), [...Array(COUNT).keys()].map(String), `${name}: in the order published`)
      t.ok((got[COUNT] as Buffer).equals(ALL_BYTES), `${name}: binary bytes kept exactly`)
    }
  })

  t.test('a listener that throws is reported and the others still get the message; stop() unsubscribes the last listener', async (t) => {
    const redis = await startRedis(t)
    const errors: Error[] = []
    const a = new RedisBackplane({ redis: redis.url, onError: (error) => errors.push(error) })
    t.teardown(() => a.close())
    const got: string[] = []
    const stopThrowing = await a.subscribeEphemeral('room', () => { throw new Error('listener bug') })
    const stop = await a.subscribeEphemeral('room', (payload) => { got.push(String(payload)) })
    t.match(await redis.command('PUBSUB', 'NUMSUB', 'fastify-datastar:room'), /:1\r\n$/, 'one Redis subscription for both listeners')
    await a.publishEphemeral('room', Buffer.from('hi'))
    await waitFor(() => got.length === 1, 'the message', LIMIT)
    t.match(errors, [{ message: 'listener bug' }])
    await stopThrowing()
    t.match(await redis.command('PUBSUB', 'NUMSUB', 'fastify-datastar:room'), /:1\r\n$/, 'still subscribed for the other listener')
    await stop()
    t.match(await redis.command('PUBSUB', 'NUMSUB', 'fastify-datastar:room'), /:0\r\n$/, 'unsubscribed with the last listener')
    // Subscribed again at once after: the UNSUBSCRIBE went first on the same connection.
    const again = await a.subscribeEphemeral('room', (payload) => { got.push(String(payload)) })
    await a.publishEphemeral('room', Buffer.from('again'))
    await waitFor(() => got.length === 2, 'the message after subscribing again', LIMIT)
    await again()
  })

  t.test('redis-server killed and restarted: the subscription comes back by itself', async (t) => {
    const redis = await startRedis(t)
    const a = new RedisBackplane({ redis: { host: '127.0.0.1', port: redis.port, retryStrategy: () => 50 } })
    const b = new RedisBackplane({ redis: { host: '127.0.0.1', port: redis.port, retryStrategy: () => 50 } })
    t.teardown(() => Promise.all([a.close(), b.close()]))
    const got: string[] = []
    await b.subscribeEphemeral('room', (payload) => { got.push(String(payload)) })
    await redis.kill()
    await redis.restart()
    // Published until B hears one: messages sent before it subscribed again are lost, as ephemeral messages are.
    for (let attempt = 0; attempt < 200 && got.length === 0; attempt++) {
      await a.publishEphemeral('room', Buffer.from('after')).catch(() => {})
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    t.equal(got[0], 'after', 'B listens again after the restart')
  })

  t.test('close() ends the subscriber connection too: no connection, socket or timer left', async (t) => {
    const redis = await startRedis(t)
    const before = { timers: timers(), sockets: sockets() }
    const a = new RedisBackplane({ redis: redis.url })
    await a.subscribeEphemeral('room', () => {})
    await within(a.close(), 5000, 'close()')
    t.ok(timers() <= before.timers, 'no timer left')
    t.ok(sockets() <= before.sockets, 'no socket left')
    await noConnectionsLeft(redis)
    await t.rejects(a.subscribeEphemeral('room', () => {}), { code: 'FST_ERR_REGISTRY_BACKPLANE' }, 'closed')
    await t.rejects(a.publishEphemeral('room', Buffer.from('x')), { code: 'FST_ERR_REGISTRY_BACKPLANE' }, 'closed')
  })
})
