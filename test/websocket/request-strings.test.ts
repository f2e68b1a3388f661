import type { IncomingMessage } from 'node:http'
import v8 from 'node:v8'
import vm from 'node:vm'
import { test } from 'tap'
import Fastify from 'fastify'
import websocket from '../../plugins/websocket.js'
import { sharedString, shareRequestStrings } from '../../src/websocket/request-strings.js'
import { listen, waitFor } from '../helpers.js'
import { connect, wsUrl, type TestClient } from './helpers.js'

// A full garbage collection (tap does not start node with --expose-gc).
function exposedGc (): () => void {
  v8.setFlagsFromString('--expose-gc')
  return vm.runInNewContext('gc') as () => void
}
const gc = (globalThis as { gc?: () => void }).gc ?? exposedGc()

function fakeRequest (rawHeaders: string[] | undefined, headers: Record<string, string | string[]>): IncomingMessage {
  return { url: '/chat/bongo', httpVersion: '1.1', rawHeaders, headers } as unknown as IncomingMessage
}

test('every name and value stays, in order; names take the lowercased key of headers', async (t) => {
  const long = 'c'.repeat(2000)
  const request = fakeRequest(
    ['Host', 'example.test', 'User-Agent', 'UA/1.0', 'X-Twice', 'a', 'X-Twice', 'b', 'Cookie', long],
    { host: 'example.test', 'user-agent': 'UA/1.0', 'x-twice': 'a, b', cookie: long }
  )
  shareRequestStrings(request)
  t.same(request.rawHeaders, ['host', 'example.test', 'user-agent', 'UA/1.0', 'x-twice', 'a', 'x-twice', 'b', 'cookie', long])
  t.same(request.headers, { host: 'example.test', 'user-agent': 'UA/1.0', 'x-twice': 'a, b', cookie: long })
  t.equal(request.url, '/chat/bongo')
  t.equal(request.httpVersion, '1.1')
  const injected = fakeRequest(undefined, { host: 'h' })
  shareRequestStrings(injected)
  t.same(injected.headers, { host: 'h' }, 'a request without rawHeaders (injectWS) is fine')
  t.equal(sharedString('13'), '13', 'an index-like string')
  t.equal(sharedString(''), '')
  t.equal(sharedString('__proto__'), '__proto__', 'a name with a meaning of its own in object literals')
  t.equal(sharedString('__proto__'), '__proto__', 'and again (nothing left behind)')
})

test('idle clients share one copy of a repeated header value', async (t) => {
  const app = Fastify({ logger: false })
  await app.register(websocket, { heartbeat: false })
  const route = app.resource('/strings', {})
  const base = await listen(app)
  t.teardown(() => app.close())
  const count = 100
  // V8 heap bytes per connected client whose upgrade carries `value` in a header.
  const heapPerClient = async (value: string): Promise<number> => {
    gc()
    gc()
    const before = process.memoryUsage().heapUsed
    const clients: TestClient[] = []
    for (let i = 0; i < count; i++) clients.push(await connect(wsUrl(base, '/strings'), undefined, { headers: { 'X-Marker': value } }))
    await waitFor(() => route.get('/strings')?.clients.size === count, 'all connected')
    t.equal([...route.get('/strings')!.clients][0]!.request.headers['x-marker'], value)
    gc()
    gc()
    const perClient = (process.memoryUsage().heapUsed - before) / count
    for (const client of clients) client.socket.close()
    await Promise.all(clients.map((client) => client.closed))
    await waitFor(() => route.get('/strings') === undefined, 'all gone')
    return perClient
  }
  await heapPerClient('warm-up')
  const short = await heapPerClient('s')
  const long = await heapPerClient(`${'x'.repeat(12_000)}-${process.pid}`)
  // A copy per client would be 12,000 bytes more each.
  t.ok(long - short < 6000, `a 12,000-byte value costs ${Math.round(long - short)} B more per client, not a copy each`)
})
