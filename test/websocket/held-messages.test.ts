/**
 * Messages held while a client's handler runs: how many are read ahead, and
 * what becomes of them when the peer leaves.
 */
import { test } from 'tap'
import type { Socket } from 'node:net'
import Fastify from 'fastify'
import type { WebSocket } from 'ws'
import websocket, { type ResourceClient } from '../../plugins/websocket.js'
import { gate, listen, waitFor } from '../helpers.js'
import { connect, wsUrl } from './helpers.js'

interface ServerSide {
  socket: WebSocket
  network: Socket
  /** Messages ws parsed (its 'message' events), handled or not. */
  parsed: number
}

// The server's side of the first connection: what its ws socket parsed, and its network socket.
async function countingApp (register: Parameters<typeof websocket>[1] = {}) {
  const app = Fastify()
  await app.register(websocket, register)
  const servers: ServerSide[] = []
  app.websocketServer.on('connection', (socket: WebSocket, request: { socket: Socket }) => {
    const server = { socket, network: request.socket, parsed: 0 }
    servers.push(server)
    socket.on('message', () => { server.parsed++ })
  })
  return { app, servers }
}

// Sends `count` tiny text messages in one write, so that the server reads many in one chunk; returns the client's network socket.
function blast (socket: WebSocket, count: number): Socket {
  const network = (socket as unknown as { _socket: Socket })._socket
  network.cork()
  for (let i = 0; i < count; i++) socket.send(String(i))
  network.uncork()
  return network
}

test('an async handler that does not settle: at most 64 messages are parsed ahead, the rest waits as bytes; other clients of the room go on', async (t) => {
  const { app, servers } = await countingApp({ heartbeat: false })
  const { opened: slow, open: finish } = gate()
  const handled: string[] = []
  app.resource('/room', {
    message: async (client, text) => {
      if (text === 'ping') {
        client.send('pong')
        return
      }
      handled.push(text)
      await slow
    }
  })
  const base = await listen(app)
  t.teardown(() => app.close())
  const blaster = await connect(wsUrl(base, '/room'))
  const neighbour = await connect(wsUrl(base, '/room'))
  const count = 5000
  const sent = blast(blaster.socket, count).bytesWritten
  const server = servers[0]!
  // Everything sent has been read from the network (or the server stopped reading): only parsing can hold it back now.
  await waitFor(() => server.network.bytesRead >= sent || server.socket.isPaused, 'the server read every byte')
  t.equal(handled.length, 1, 'one message in the handler')
  t.ok(server.parsed <= 1 + 64, `at most 64 messages held besides it (${server.parsed})`)
  neighbour.socket.send('ping')
  t.equal(await neighbour.message(0), 'pong', 'a client of the same room is answered meanwhile')
  finish()
  await waitFor(() => handled.length === count, 'every message handled once the handler settles')
  t.same(handled, Array.from({ length: count }, (_, i) => String(i)), 'all of them, in order')
})

test('past maxPayload bytes kept unparsed the socket is paused: the rest stays in the network', async (t) => {
  const { app, servers } = await countingApp({ heartbeat: false })
  const { opened: slow, open: finish } = gate()
  let handled = 0
  let resourceClient: ResourceClient | undefined
  app.resource('/small', {
    maxPayload: 1024,
    connected: (client) => { resourceClient = client },
    message: async () => { handled++; await slow }
  })
  const base = await listen(app)
  t.teardown(() => app.close())
  const client = await connect(wsUrl(base, '/small'))
  const count = 100_000
  const sent = blast(client.socket, count).bytesWritten
  const server = servers[0]!
  await waitFor(() => server.socket.isPaused, 'the server stopped reading')
  t.ok(server.network.bytesRead < sent / 2, `most of the ${sent} bytes were left in the network (${server.network.bytesRead} read)`)
  t.ok(server.parsed <= 1 + 64, `no more than 64 messages held (${server.parsed})`)
  t.equal(resourceClient!.isClosed, false, 'a client held back is not closed')
  finish()
  await waitFor(() => handled === count, 'every message handled', 20_000)
})

test('a peer that drops the connection while messages are held: they are dropped, disconnected runs once, finished resolves', async (t) => {
  const { app } = await countingApp({ heartbeat: false })
  const { opened: slow, open: finish } = gate()
  let calls = 0
  let callsAfterClose = 0
  let closed = false
  let disconnected = 0
  let server: ResourceClient | undefined
  app.resource('/leaving', {
    connected: (client) => {
      server = client
      client.onClose(() => { closed = true })
    },
    message: async () => {
      calls++
      if (closed) callsAfterClose++
      await slow
    },
    disconnected: () => { disconnected++ }
  })
  const base = await listen(app)
  t.teardown(() => app.close())
  const client = await connect(wsUrl(base, '/leaving'))
  // Far more than one network read: the end of the connection comes behind what a paused socket would never read.
  const network = blast(client.socket, 50_000)
  await waitFor(() => calls === 1 && network.writableLength === 0, 'the first message in the handler, everything sent')
  client.socket.terminate()
  await waitFor(() => closed, 'the server saw the peer leave while its handler still runs')
  finish()
  await server!.finished
  t.equal(calls, 1, 'only the message in flight was handled')
  t.equal(callsAfterClose, 0)
  t.equal(disconnected, 1)
})
