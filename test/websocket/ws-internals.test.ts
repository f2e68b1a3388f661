/**
 * The ws internals src/websocket/ws-internals.ts reaches into (read from ws
 * 8.23.0) are still there: if this fails after a ws upgrade, read the new
 * lib/receiver.js and lib/websocket.js before changing anything else.
 */
import { test, type Test } from 'tap'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import WebSocket, { WebSocketServer } from 'ws'
import { holdMessages, releaseMessages } from '../../src/websocket/ws-internals.js'
import { waitFor } from '../helpers.js'

const require = createRequire(import.meta.url)

async function serverSocket (t: Test): Promise<{ server: WebSocket, client: WebSocket }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const address = wss.address() as { port: number }
  const client = new WebSocket(`ws://127.0.0.1:${address.port}`)
  const [server] = await once(wss, 'connection') as [WebSocket]
  await once(client, 'open')
  t.teardown(() => {
    client.terminate()
    wss.close()
  })
  return { server, client }
}

test('the ws version and the Receiver fields and methods ws-internals.ts uses', async (t) => {
  const { version } = require('ws/package.json') as { version: string }
  t.match(version, /^8\./, `ws ${version}: ws-internals.ts was read from 8.23.0`)
  const { server } = await serverSocket(t)
  const receiver = (server as unknown as { _receiver: Record<string, unknown> })._receiver
  t.type(receiver._bufferedBytes, 'number', '_bufferedBytes')
  t.type(receiver._loop, 'boolean', '_loop')
  t.type(receiver.startLoop, 'function', 'startLoop')
  t.notOk(Object.hasOwn(receiver, 'startLoop'), 'startLoop is on the prototype (a hold shadows it)')
  t.equal(receiver.writable, true, 'a Writable')
})

test('held input stays bytes until released, then arrives whole and in order', async (t) => {
  const { server, client } = await serverSocket(t)
  const received: string[] = []
  server.on('message', (data) => {
    received.push(String(data))
    if (received.length === 1) holdMessages(server, 1024)
  })
  for (const text of ['a', 'b', 'c']) client.send(text)
  const receiver = (server as unknown as { _receiver: { _bufferedBytes: number } })._receiver
  await waitFor(() => receiver._bufferedBytes > 0 || received.length === 3, 'the rest read')
  t.same(received, ['a'], 'nothing parsed after the hold')
  t.ok(receiver._bufferedBytes > 0, 'the rest kept as bytes')
  releaseMessages(server)
  t.same(received, ['a', 'b', 'c'], 'parsed at release, in order')
  releaseMessages(server)
  t.same(received, ['a', 'b', 'c'], 'a second release does nothing')
})
