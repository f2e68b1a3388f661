/**
 * The ws internals src/websocket/ws-internals.ts reaches into (read from ws
 * 8.23.0) are still there: if this fails after a ws upgrade, read the new
 * lib/receiver.js and lib/websocket.js before changing anything else.
 */
import { test, type Test } from 'tap'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import WebSocket, { WebSocketServer } from 'ws'
import { Socket } from 'node:net'
import { holdMessages, messageInProgress, networkSocket, releaseMessages } from '../../src/websocket/ws-internals.js'
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
  t.equal(receiver._fragmented, 0, '_fragmented, 0 between messages')
  t.equal(receiver._state, 0, '_state, 0 (GET_INFO) between frames')
  t.type(receiver._loop, 'boolean', '_loop')
  t.type(receiver.startLoop, 'function', 'startLoop')
  t.notOk(Object.hasOwn(receiver, 'startLoop'), 'startLoop is on the prototype (a hold shadows it)')
  t.equal(receiver.writable, true, 'a Writable')
  t.ok(networkSocket(server) instanceof Socket, '_socket, the network socket')
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

test('a message in progress: the first fragments of a message, or part of a frame', async (t) => {
  const { server, client } = await serverSocket(t)
  const network = (client as unknown as { _socket: Socket })._socket
  // Each step waits for the server to have parsed what came before it: a ping's pong.
  const settled = async (): Promise<void> => {
    client.ping()
    await once(client, 'pong')
  }
  t.equal(messageInProgress(server), false, 'nothing read')
  client.send('a', { fin: false })
  await settled()
  t.equal(messageInProgress(server), true, 'a first fragment')
  client.send('b', { fin: true })
  await settled()
  t.equal(messageInProgress(server), false, 'the last fragment')
  // FIN + binary, MASK + 10 bytes announced, zero mask, then 2 of them: the ping after it is payload to ws.
  network.write(Buffer.from([0x82, 0x80 | 10, 0, 0, 0, 0, 1, 2]))
  await waitFor(() => messageInProgress(server), 'part of a frame')
  t.pass('part of a frame')
})
