/**
 * Browser RPC across nodes in real Chromium (issue #13): two nodes on one
 * real redis-server, a page behind a TCP proxy of the test's own that plays
 * the load balancer. The page's connection is cut and the balancer sends the
 * next one to the other node: the page resumes its session there. Every wait
 * is bounded, nothing is timed.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { Type } from '@sinclair/typebox'
import type { Browser } from 'playwright-core'
import rpc, { type BrowserFunction, type RemoteSession, type Session } from '../../plugins/rpc.js'
import { RedisBackplane } from '../../src/registry/redis.js'
import { listen, waitFor, within } from '../helpers.js'
import { redisSkip, startRedis } from '../registry/redis-server.js'
import { startProxy } from '../registry/tcp-proxy.js'
import { BROWSER_SKIP, launchChromium } from './helpers.js'

const LIMIT = 10_000

const PAGE_SCRIPT = `
import { connect } from '/rpc/client.js'
const state = { events: [] }
globalThis.rpcTest = state
const client = await connect({ reconnect: { initialDelay: 20, maxDelay: 200 } })
state.client = client
client.addEventListener('connected', () => { state.events.push('connected') })
client.addEventListener('disconnected', () => { state.events.push('disconnected') })
state.node = () => client.call('node', [])
document.documentElement.dataset.session = client.session
`

interface Node {
  app: FastifyInstance
  port: number
  hooks: string[]
  add: BrowserFunction<[number, number], number>
}

async function node (t: Test, redisUrl: string, name: string): Promise<Node> {
  const app = Fastify()
  t.teardown(() => app.close())
  const hooks: string[] = []
  await app.register(rpc, {
    backplane: new RedisBackplane({ redis: redisUrl }),
    data: () => ({ visits: 0 }),
    onBoot: (session) => { hooks.push(`boot ${session.id}`) },
    onResume: (session) => { hooks.push(`resume ${session.id}`) }
  })
  const add = app.rpc.browserFunction('add', { params: Type.Tuple([Type.Number(), Type.Number()]), result: Type.Number() }, (a, b) => a + b)
  app.rpc.serverFunction('node', { params: Type.Tuple([]), result: Type.String() }, () => name)
  app.get('/', async (_request, reply) => reply.type('text/html').send('<!doctype html><title>rpc</title><script type="module" src="/page.js"></script>'))
  app.get('/page.js', async (_request, reply) => reply.type('text/javascript').send(PAGE_SCRIPT))
  const base = await listen(app)
  return { app, port: Number(new URL(base).port), hooks, add }
}

let browser: Browser | undefined
t.before(async () => { if (BROWSER_SKIP === false && await redisSkip() === false) browser = await launchChromium() })
t.teardown(async () => { await browser?.close() })

t.test('a page whose connection lands on another node resumes its session there: same id, data kept, onResume', { skip: BROWSER_SKIP || await redisSkip() }, async (t) => {
  const redis = await startRedis(t)
  const a = await node(t, redis.url, 'a')
  const b = await node(t, redis.url, 'b')
  await waitFor(() => a.app.rpc.nodes().length === 2, 'the nodes know each other', LIMIT)
  const balancer = await startProxy(t, a.port)
  const context = await (browser as Browser).newContext()
  t.teardown(() => context.close())
  const page = await context.newPage()
  await page.goto(`http://127.0.0.1:${balancer.port}/`)
  await page.locator('html[data-session]').waitFor({ state: 'attached', timeout: LIMIT })
  const id = await page.getAttribute('html', 'data-session') as string
  t.equal(await within(page.evaluate(() => (globalThis as unknown as { rpcTest: { node: () => Promise<string> } }).rpcTest.node()), LIMIT, 'a call'), 'a')
  ;(a.app.rpc.session(id) as Session).data.visits = 2

  balancer.retarget(b.port)
  balancer.cut()
  await page.waitForFunction(() => (globalThis as unknown as { rpcTest: { events: string[] } }).rpcTest.events.join(',') === 'disconnected,connected', undefined, { timeout: LIMIT })
  t.equal(await page.evaluate(() => (globalThis as unknown as { rpcTest: { client: { session: string } } }).rpcTest.client.session), id, 'the same session')
  t.equal(await within(page.evaluate(() => (globalThis as unknown as { rpcTest: { node: () => Promise<string> } }).rpcTest.node()), LIMIT, 'a call after the move'), 'b', 'served by b now')
  t.same((b.app.rpc.session(id) as Session).data, { visits: 2 }, 'its data came along')
  t.same(b.hooks, [`resume ${id}`], 'onResume on b, not onBoot')
  t.same(a.hooks, [`boot ${id}`])
  t.equal(await within((a.app.rpc.session(id) as RemoteSession).call(a.add, [1, 2]), LIMIT, 'a call from a'), 3, 'a call from node a reaches the page on b')
})
