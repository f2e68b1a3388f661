/**
 * The shared store of both backplanes: the same cases on a MemoryBackplane's
 * and on a RedisBackplane's (a real redis-server).
 */
import t, { type Test } from 'tap'
import { MemoryBackplane } from '../../src/registry/backplane.js'
import { RedisBackplane } from '../../src/registry/redis.js'
import type { SharedStore } from '../../src/cluster/store.js'
import { redisSkip, startRedis } from '../registry/redis-server.js'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function cases (t: Test, store: SharedStore): Promise<void> {
  await store.set('a', 'one', 60_000)
  t.equal(await store.get('a'), 'one')
  t.equal(await store.get('none'), undefined, 'a key never set')
  await store.set('short', 'x', 50)
  await store.add('set', 'm1', 60_000)
  await store.add('set', 'm2', 60_000)
  await store.add('set', 'm1', 60_000)
  t.same((await store.members('set')).sort(), ['m1', 'm2'], 'a member once')
  await store.remove('set', 'm1')
  t.same(await store.members('set'), ['m2'])
  t.same(await store.members('no-set'), [])
  await store.add('short-set', 'm', 50)
  await store.set('kept', 'y', 50)
  await store.expire(['kept', 'none'], 60_000)
  await sleep(150)
  t.equal(await store.get('short'), undefined, 'a value expires')
  t.same(await store.members('short-set'), [], 'so does a set')
  t.equal(await store.get('kept'), 'y', 'expire() gave it more time')
  await store.delete('a')
  await store.delete('set')
  t.equal(await store.get('a'), undefined)
  t.same(await store.members('set'), [])
  await store.expire([], 1000)
}

t.test('MemoryBackplane: one store for the nodes of a process', async (t) => {
  const backplane = new MemoryBackplane()
  await cases(t, backplane.store)
  t.equal(backplane.store, backplane.store, 'the same store each time')
})

t.test('RedisBackplane: the store in Redis, under the backplane\'s prefix', { skip: await redisSkip() }, async (t) => {
  const redis = await startRedis(t)
  const backplane = new RedisBackplane({ redis: redis.url, prefix: 'p:' })
  t.teardown(() => backplane.close())
  await cases(t, backplane.store)
  await backplane.store.set('k', 'v', 60_000)
  t.match(await redis.command('GET', 'p:k'), /v/, 'the key carries the prefix')
  const other = new RedisBackplane({ redis: redis.url, prefix: 'p:' })
  t.equal(await other.store.get('k'), 'v', 'another node reads it')
  await other.close()
  await backplane.close()
  await t.rejects(backplane.store.get('k'), { code: 'FST_ERR_REGISTRY_BACKPLANE' }, 'closed: a coded error')
})
