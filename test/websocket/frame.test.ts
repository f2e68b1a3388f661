import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { Writable } from 'node:stream'
import { test, type Test } from 'tap'
import * as wsModule from 'ws'
import { WebSocketServer, type WebSocket } from 'ws'
import { frameSender, SharedMessage } from '../../src/websocket/frame.js'
import { resolveResourceOptions, type ResourceOptions } from '../../src/websocket/options.js'
import { ResourceRoute } from '../../src/websocket/resource-route.js'
import { connect, type TestClient } from './helpers.js'
import { waitFor, within } from '../helpers.js'

// What ws's own Receiver reads from bytes a server sent: [message, isBinary] pairs.
// (Receiver is exported by ws, not declared by @types/ws.)
type FrameReceiver = Writable & { on: (event: 'message', listener: (data: Buffer, isBinary: boolean) => void) => void }
const { Receiver } = wsModule as unknown as { Receiver: new (options: { isServer: boolean }) => FrameReceiver }

function readFrames (bytes: Buffer): Array<[string | Buffer, boolean]> {
  const receiver = new Receiver({ isServer: false })
  const read: Array<[string | Buffer, boolean]> = []
  receiver.on('message', (data, isBinary) => { read.push([isBinary ? data : data.toString(), isBinary]) })
  receiver.write(bytes)
  return read
}

test('a shared message is one final unmasked frame, in each length form, made once', async (t) => {
  const cases: Array<[string, Buffer, boolean, number[]]> = [
    ['short text', Buffer.from('hi'), false, [0x81, 2]],
    ['binary', Buffer.from([1, 2, 3]), true, [0x82, 3]],
    ['16-bit length', Buffer.alloc(200, 'a'), false, [0x81, 126, 0, 200]],
    ['64-bit length', Buffer.alloc(70_000, 'b'), true, [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]]
  ]
  for (const [what, bytes, binary, header] of cases) {
    const message = new SharedMessage(bytes, binary)
    const frame = message.frame!
    t.same([...frame.subarray(0, header.length)], header, `${what}: header`)
    t.equal(frame.length, header.length + bytes.length, `${what}: header and payload, nothing else`)
    t.ok(frame.subarray(header.length).equals(bytes), `${what}: payload as given`)
    t.same(readFrames(frame), [[binary ? bytes : bytes.toString(), binary]], `${what}: ws reads it back`)
    t.equal(message.frame, frame, `${what}: framed once`)
  }
})

interface Room {
  route: ResourceRoute
  /** The server side of each connection, in connection order. */
  sockets: WebSocket[]
  /** How many times ws's `send()` ran on the server side (the path a direct write skips). */
  sends: () => number
  url: string
}

// A bare ws server whose connections join one resource instance, 'room'.
async function room (t: Test, options: ResourceOptions = {}, perMessageDeflate = false): Promise<Room> {
  const route = new ResourceRoute('/room', { options: resolveResourceOptions({ heartbeat: false, ...options }), onError: () => {} })
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate })
  await once(server, 'listening')
  const sockets: WebSocket[] = []
  let sends = 0
  server.on('connection', (socket) => {
    const send = socket.send.bind(socket)
    socket.send = ((...args: Parameters<WebSocket['send']>) => { sends++; send(...args) }) as WebSocket['send']
    sockets.push(socket)
    route.accept({ socket, request: undefined, name: 'room' })
  })
  t.teardown(async () => {
    for (const socket of server.clients) socket.terminate()
    await new Promise((resolve) => { server.close(resolve) })
  })
  return { route, sockets, sends: () => sends, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/room` }
}

async function join (t: Test, at: Room, count: number, options?: { perMessageDeflate?: boolean }): Promise<TestClient[]> {
  const clients: TestClient[] = []
  for (let i = 0; i < count; i++) {
    const client = await connect(at.url, undefined, { perMessageDeflate: options?.perMessageDeflate ?? false })
    t.teardown(() => { client.socket.terminate() })
    clients.push(client)
  }
  await waitFor(() => at.route.get('room')?.clients.size === count, 'clients joined')
  return clients
}

test('a broadcast writes its one frame to every socket, not through ws.send()', async (t) => {
  const at = await room(t)
  const clients = await join(t, at, 3)
  const instance = at.route.get('room')!
  t.equal(instance.broadcast('hello'), 3)
  t.equal(instance.broadcast(Buffer.from([7, 8])), 3)
  t.equal(instance.broadcast({ n: 'é'.repeat(100) }), 3)
  for (const client of clients) {
    await client.message(2)
    t.same(client.messages, ['hello', Buffer.from([7, 8]), JSON.stringify({ n: 'é'.repeat(100) })])
  }
  t.equal(at.sends(), 0, 'ws.send() never ran')
  // A client's own send goes through ws and keeps its place between broadcasts.
  const [first] = [...instance.clients]
  first!.send('own')
  instance.broadcast('after')
  const own = clients[0]!
  await own.message(4)
  t.same(own.messages.slice(3), ['own', 'after'])
  t.equal(at.sends(), 1)
})

test('with permessage-deflate a broadcast goes through ws.send(), which compresses', async (t) => {
  const at = await room(t, {}, true)
  const [deflating] = await join(t, at, 1, { perMessageDeflate: true })
  t.equal(deflating!.socket.extensions, 'permessage-deflate')
  const big = 'x'.repeat(4096)
  at.route.get('room')!.broadcast(big)
  t.equal(await deflating!.message(0), big)
  t.equal(at.sends(), 1, 'one ws.send()')
})

test('drop-oldest clients keep ws.send() (its flush callbacks are the policy)', async (t) => {
  const at = await room(t, { overflow: 'drop-oldest' })
  const [client] = await join(t, at, 1)
  at.route.get('room')!.broadcast('one')
  t.equal(await client!.message(0), 'one')
  t.equal(at.sends(), 1)
})

test('a frame never overtakes a message ws is still preparing (a Blob being read)', async (t) => {
  const at = await room(t)
  const [client] = await join(t, at, 1)
  // ws reads a Blob asynchronously and queues what is sent meanwhile.
  at.sockets[0]!.send(new Blob(['first']))
  at.route.get('room')!.broadcast('second')
  await client!.message(1)
  t.same(client!.messages, [Buffer.from('first'), 'second'])
  t.equal(at.sends(), 2, 'the broadcast waited in ws\'s queue')
})

test('the direct path counts toward maxBufferedBytes: a stalled reader is closed for overflow', async (t) => {
  const at = await room(t, { maxBufferedBytes: 64 * 1024, hardMaxBufferedBytes: 64 * 1024 })
  const [stalled, reader] = await join(t, at, 2)
  ;(stalled!.socket as unknown as { _socket: { pause: () => void } })._socket.pause()
  const instance = at.route.get('room')!
  const [stalledClient] = [...instance.clients]
  const chunk = 'z'.repeat(16 * 1024)
  let maxBuffered = 0
  // Until the kernel's buffers are full and the bound is reached, however large they are (bounded in count and time).
  const deadline = Date.now() + 10_000
  for (let i = 0; i < 50_000 && !stalledClient!.isClosed && Date.now() < deadline; i++) {
    instance.broadcast(chunk)
    if (!stalledClient!.isClosed) maxBuffered = Math.max(maxBuffered, stalledClient!.bufferedAmount)
    if (i % 20 === 19) await new Promise((resolve) => setImmediate(resolve))
  }
  t.ok(maxBuffered <= 64 * 1024 + chunk.length + 4, `never past the bound (${maxBuffered})`)
  await waitFor(() => stalledClient!.isClosed, 'stalled client closed')
  t.equal(stalledClient!.closeError?.message, 'Closed a WebSocket client that fell more than 65536 bytes behind (the hard bound)')
  t.equal(at.sends(), 0, 'all of it went the direct way')
  instance.broadcast('still here')
  await waitFor(() => reader!.messages.at(-1) === 'still here', 'the other client keeps receiving')
})

test('a frame never goes between the fragments of a message ws is sending', async (t) => {
  const at = await room(t)
  const [client] = await join(t, at, 1)
  at.sockets[0]!.send('first half, ', { fin: false })
  at.route.get('room')!.broadcast('second half')
  at.route.get('room')!.broadcast('next')
  await within(client!.message(1), 5000, 'both messages')
  t.same(client!.messages, ['first half, second half', 'next'], 'ws ended the fragmented message with the broadcast')
  t.equal(client!.socket.readyState, client!.socket.OPEN)
})

test('a client-side socket accepted into a resource keeps ws.send(): its frames must be masked', async (t) => {
  // A plain ws server upstream: it fails the connection (1002) on an unmasked frame from a client.
  const upstream = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(upstream, 'listening')
  t.teardown(() => new Promise((resolve) => { upstream.close(resolve) }))
  const received: string[] = []
  let upstreamSocket: WebSocket | undefined
  upstream.on('connection', (socket) => {
    upstreamSocket = socket
    socket.on('message', (data) => { received.push(String(data)) })
  })
  const outgoing = (await connect(`ws://127.0.0.1:${(upstream.address() as AddressInfo).port}/`)).socket
  t.teardown(() => { outgoing.terminate() })
  t.equal(frameSender(outgoing), null)
  const route = new ResourceRoute('/out', { options: resolveResourceOptions({ heartbeat: false }), onError: () => {} })
  route.accept({ socket: outgoing, request: undefined, name: 'out' })
  route.get('out')!.broadcast('masked')
  await waitFor(() => received.length === 1, 'the upstream server read it')
  t.same(received, ['masked'])
  t.equal(upstreamSocket!.readyState, upstreamSocket!.OPEN, 'no protocol error')
})

test('a ws without the internals the direct path reads gets ws.send() for everything', async (t) => {
  const plain = { extensions: '', _isServer: true }
  t.equal(frameSender({ ...plain, _sender: undefined } as unknown as WebSocket), null, 'no sender')
  t.equal(frameSender({ ...plain, _sender: { _firstFragment: true, _socket: { write () { return true } } } } as unknown as WebSocket), null, 'no state')
  t.equal(frameSender({ ...plain, _sender: { _state: 0, _socket: { write () { return true } } } } as unknown as WebSocket), null, 'no fragment flag')
  t.equal(frameSender({ ...plain, _sender: { _state: 0, _firstFragment: true, _socket: null } } as unknown as WebSocket), null, 'no socket')
  t.equal(frameSender({ ...plain, extensions: 'permessage-deflate', _sender: { _state: 0, _firstFragment: true, _socket: { write () { return true } } } } as unknown as WebSocket), null, 'an extension')
  t.ok(frameSender({ ...plain, _sender: { _state: 0, _firstFragment: true, _socket: { write () { return true } } } } as unknown as WebSocket), 'all there')
})

test('after close() a broadcast writes nothing more to that client', async (t) => {
  const at = await room(t)
  const [closing, staying] = await join(t, at, 2)
  const instance = at.route.get('room')!
  const [first] = [...instance.clients]
  first!.close(1000, 'bye')
  t.equal(instance.broadcast('after close'), 1, 'handed to the other client only')
  t.same(await closing!.closed, { code: 1000, reason: 'bye' })
  t.same(closing!.messages, [], 'no data frame after the close frame')
  t.equal(await staying!.message(0), 'after close')
})
