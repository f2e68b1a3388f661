/**
 * Delivery you can trust, under faults: two nodes on one real redis-server
 * (node B, which coalesces, through a TCP proxy of the tests' own), two
 * publishers, and clients (four SSE, two long-poll) hopping between the nodes
 * with Last-Event-ID or their cursor while node B's connection is cut, and
 * Redis is killed with SIGKILL and restarted, with and without persistence.
 * Every client must end with no accepted publish lost (a full state covers
 * what it was told to resync over), nothing twice, and never an id at or
 * below one it had. Rerun with `npx tap test/chaos/`; docs/registry.md#faults.
 */
import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { within } from '../helpers.js'
import { redisSkip, startRedis, type RedisServer } from '../registry/redis-server.js'
import { startProxy, type TcpProxy } from '../registry/tcp-proxy.js'
import { HoppingClient, Ledger, play, startNode, type Cast, type NodeOptions } from './harness.js'

const skip = await redisSkip()
if (skip !== false) t.plan(0, skip)

// A publish travels as EVALSHA with its payload: the proxy recognises it by this.
const PUBLISH = 'datastar-patch-signals'

/** Redis, a proxy before it, node A on Redis, node B (coalescing) through the proxy, and the clients. */
async function cluster (t: Test, persistence: boolean, replay: number): Promise<Cast & { redis: RedisServer, proxy: TcpProxy }> {
  const redis = await startRedis(t, { persistence })
  const proxy = await startProxy(t, redis.port)
  const ledger = new Ledger()
  const state = (): number => ledger.made
  const options: NodeOptions = { replay, state }
  const nodes = [await startNode(t, 'A', redis.port, options), await startNode(t, 'B', proxy.port, { ...options, coalesce: 2 })]
  const clients = [
    ...['sse 1', 'sse 2', 'sse 3', 'sse 4'].map((name) => new HoppingClient(name, 'sse', state)),
    ...['poll 1', 'poll 2'].map((name) => new HoppingClient(name, 'poll', state))
  ]
  return { redis, proxy, ledger, nodes, clients }
}

/** Kills redis-server (SIGKILL) and starts it again after `downMs`. */
async function crash (redis: RedisServer, downMs: number): Promise<void> {
  await redis.kill()
  await sleep(downMs)
  await redis.restart()
}

/**
 * Two crashes: the first in the midst of the traffic; before the second,
 * `before()`, then node B is cut off, `aloneMs` later Redis crashes, and B
 * comes back once it has restarted.
 */
async function crashTwice (redis: RedisServer, proxy: TcpProxy, before: () => Promise<void>, aloneMs: number): Promise<void> {
  await sleep(200)
  await crash(redis, 300)
  await sleep(200)
  await before()
  proxy.down()
  await sleep(aloneMs)
  await crash(redis, 100)
  proxy.heal()
}

t.test('the connection of node B to Redis is cut, at once, between an applied publish and its answer, and for a while', async (t) => {
  const cast = await cluster(t, false, 32)
  const { proxy } = cast
  const connections = proxy.connections
  await play(t, cast, async () => {
    for (let round = 0; round < 2; round++) {
      await sleep(150)
      await within(proxy.cutAfter(PUBLISH), 10_000, 'a publish of node B, applied and its answer cut')
      await sleep(150)
      proxy.cut()
      await sleep(150)
      proxy.down()
      await sleep(300)
      proxy.heal()
    }
  })
  t.ok(proxy.connections > connections + 4, 'node B reconnected after each cut')
})

t.test('redis-server killed with SIGKILL and restarted, with persistence: also right after it applied a publish whose answer was lost', async (t) => {
  const cast = await cluster(t, true, 32)
  const { redis, proxy } = cast
  // The publish is in the append-only file, with the key that makes it happen once: the resend after the restart finds it.
  const cut = (): Promise<void> => within(proxy.cutAfter(PUBLISH), 10_000, 'a publish of node B, applied and its answer cut')
  await play(t, cast, () => crashTwice(redis, proxy, cut, 0))
})

t.test('redis-server killed with SIGKILL and restarted without persistence: the streams are gone, every client is told to resync', async (t) => {
  // No node can vouch for a replay across the restart: the second time, node
  // B is cut off just before, so publishes Redis acknowledged (and node A
  // delivered) never reach it.
  const cast = await cluster(t, false, 8)
  const { redis, proxy } = cast
  await play(t, cast, () => crashTwice(redis, proxy, async () => {}, 100))
  for (const client of cast.clients) t.ok(client.resyncs >= 1, `${client.name} was told to resync`)
})
