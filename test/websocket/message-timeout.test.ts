/**
 * messageTimeout: a message whose first bytes came must be complete in time,
 * fragments included; its timer runs only while a message is in progress.
 */
import { test } from 'tap'
import { once } from 'node:events'
import type { Socket } from 'node:net'
import Fastify from 'fastify'
import type WebSocket from 'ws'
import websocket, { CloseCode, type ResourceClient, type ResourceDefinition } from '../../plugins/websocket.js'
import { gate, listen, logCapture, waitFor, within } from '../helpers.js'
import { connect, wsUrl } from './helpers.js'

const TIMEOUT = 50

async function appWith (handlers: ResourceDefinition<Record<string, unknown>, undefined>) {
  const logs = logCapture()
  const app = Fastify({ logger: { level: 'info', stream: logs.stream } })
  await app.register(websocket, { messageTimeout: TIMEOUT, heartbeat: false })
  app.resource('/room', handlers)
  const base = await listen(app)
  return { app, logs, url: wsUrl(base, '/room') }
}

function timeoutsLogged (logs: ReturnType<typeof logCapture>): number {
  return logs.lines.filter((line) => (line.err as { code?: string } | undefined)?.code === 'FST_ERR_WS_MESSAGE_TIMEOUT').length
}

// Writes bytes the ws client would not: a hand-made frame (masked with a zero key, so the payload reads as is).
function writeRaw (socket: WebSocket, bytes: Buffer): void {
  (socket as unknown as { _socket: Socket })._socket.write(bytes)
}

test('a first fragment never followed by the rest closes with 1008 after messageTimeout', async (t) => {
  let disconnected = 0
  const { app, logs, url } = await appWith({ message: () => {}, disconnected: () => { disconnected++ } })
  t.teardown(() => app.close())
  const client = await connect(url)
  client.socket.send('the start', { fin: false })
  const closed = await within(client.closed, 5000, 'the close')
  t.equal(closed.code, CloseCode.POLICY_VIOLATION)
  t.match(closed.reason, /not complete within 50 ms/)
  await waitFor(() => disconnected === 1, 'disconnected')
  t.equal(timeoutsLogged(logs), 1, 'logged as a client error')
  t.equal(logs.lines.find((line) => line.msg === 'websocket client error')?.level, 30, 'at info')
})

test('a frame cut short (its header announces more payload than comes) closes with 1008 too', async (t) => {
  const { app, url } = await appWith({ message: () => {} })
  t.teardown(() => app.close())
  const client = await connect(url)
  // FIN + text, MASK + 100 bytes announced, zero mask, then only 10 of them.
  writeRaw(client.socket, Buffer.concat([Buffer.from([0x81, 0x80 | 100, 0, 0, 0, 0]), Buffer.from('0123456789')]))
  t.equal((await within(client.closed, 5000, 'the close')).code, CloseCode.POLICY_VIOLATION)
})

test('a fragmented message completed in time arrives whole, and its timer is gone: the connection stays', async (t) => {
  const received: string[] = []
  let server: ResourceClient | undefined
  const { app, logs, url } = await appWith({
    connected: (client) => { server = client },
    message: (client, text) => { received.push(text); client.send('ok') }
  })
  t.teardown(() => app.close())
  const client = await connect(url)
  client.socket.send('one ', { fin: false })
  client.socket.send('two ', { fin: false })
  // The pong comes once the server has read the fragments before the ping: a message in progress, timed.
  client.socket.ping()
  await once(client.socket, 'pong')
  client.socket.send('three', { fin: true })
  await client.message(0)
  t.same(received, ['one two three'])
  await new Promise((resolve) => setTimeout(resolve, TIMEOUT * 4))
  t.equal(server!.isClosed, false, 'still open well past messageTimeout')
  t.equal(timeoutsLogged(logs), 0)
})

test('a peer that leaves in the middle of a message: its timer is cleared with the connection', async (t) => {
  let server: ResourceClient | undefined
  const { app, logs, url } = await appWith({ connected: (client) => { server = client }, message: () => {} })
  t.teardown(() => app.close())
  const client = await connect(url)
  client.socket.send('the start', { fin: false })
  await waitFor(() => server !== undefined, 'connected')
  client.socket.terminate()
  await server!.finished
  await new Promise((resolve) => setTimeout(resolve, TIMEOUT * 4))
  t.equal(timeoutsLogged(logs), 0, 'no timeout fired after the close')
})

test('input kept unparsed while the client\'s own messages are held is not timed', async (t) => {
  const { opened: slow, open: finish } = gate()
  let handled = 0
  let server: ResourceClient | undefined
  const { app, logs, url } = await appWith({
    connected: (client) => { server = client },
    message: async () => { handled++; await slow }
  })
  t.teardown(() => app.close())
  const client = await connect(url)
  for (let i = 0; i < 1000; i++) client.socket.send(String(i))
  await waitFor(() => handled === 1, 'the first message in the handler')
  await new Promise((resolve) => setTimeout(resolve, TIMEOUT * 4))
  t.equal(server!.isClosed, false, 'not closed while its messages wait')
  finish()
  await waitFor(() => handled === 1000, 'every message handled')
  t.equal(timeoutsLogged(logs), 0)
})

test('held input that ends in part of a message is timed once released', async (t) => {
  const { opened: slow, open: finish } = gate()
  let handled = 0
  const { app, url } = await appWith({ message: async () => { handled++; await slow } })
  t.teardown(() => app.close())
  const client = await connect(url)
  // One write: the server reads the first fragment of the last message while the rest are held, so no later read times it.
  const network = (client.socket as unknown as { _socket: Socket })._socket
  network.cork()
  for (let i = 0; i < 100; i++) client.socket.send(String(i))
  client.socket.send('the start', { fin: false })
  network.uncork()
  await waitFor(() => handled === 1, 'the first message in the handler')
  finish()
  t.equal((await within(client.closed, 5000, 'the close')).code, CloseCode.POLICY_VIOLATION)
  t.equal(handled, 100, 'the complete messages were handled first')
})

test('app.close() with a message in progress: the client is closed and no timer outlives it', async (t) => {
  let server: ResourceClient | undefined
  const { app, logs, url } = await appWith({ connected: (client) => { server = client }, message: () => {} })
  const client = await connect(url)
  client.socket.send('the start', { fin: false })
  client.socket.ping()
  await once(client.socket, 'pong')
  await app.close()
  t.equal(server!.isClosed, true)
  t.equal((await client.closed).code, CloseCode.GOING_AWAY)
  await new Promise((resolve) => setTimeout(resolve, TIMEOUT * 4))
  t.equal(timeoutsLogged(logs), 0, 'no timeout fired after app.close()')
})
