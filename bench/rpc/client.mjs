// The load generator of bench/rpc, a child process of run.mjs (IPC): N pages,
// each one of
//  - `echo` (raw ws): a ws WebSocket to /bench that sends every message back;
//  - `socket.io`: a socket.io-client 4 socket (transports: ['websocket'], its
//    own Manager, no reconnection) acking 'echo' with its argument and 'add'
//    with the sum;
//  - `rpc`: fastify-datastar's RpcClient (the module a page runs,
//    'fastify-datastar/rpc') on ws's WebSocket, with the browser functions the
//    server serves: its client.js names the content-addressed module, fetched
//    and imported once per process, as connectTestPage does (without its
//    fault-injecting socket).
// Connecting and the IPC protocol with run.mjs ({ cmd: 'connect', port, n,
// page, sources }, 'close') are bench/common/client.mjs's; the round trips are
// timed by the servers, which make the calls.
import { WebSocket } from 'ws'
import { attempt, CONNECT_TIMEOUT_MS, LoadGenerator, runClient } from '../common/client.mjs'

function openEcho (port, source) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/bench`, { perMessageDeflate: false, localAddress: source })
    const connection = { events: 0, close: () => ws.terminate() }
    const finish = attempt(resolve, { abort: () => ws.terminate(), connection: () => connection })
    ws.on('message', (data, binary) => ws.send(data, { binary }))
    ws.once('open', () => finish())
    ws.once('error', (error) => finish(error))
    ws.once('close', () => finish(new Error('closed before open')))
  })
}

let ioFactory = null

async function openSocketIo (port, source) {
  ioFactory ??= (await import('socket.io-client')).io
  return new Promise((resolve) => {
    const socket = ioFactory(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: CONNECT_TIMEOUT_MS, localAddress: source })
    const connection = { events: 0, close: () => socket.disconnect() }
    const finish = attempt(resolve, { abort: () => socket.disconnect(), connection: () => connection })
    socket.on('echo', (text, ack) => ack(text))
    socket.on('add', (a, b, ack) => ack(a + b))
    socket.once('connect', () => finish())
    socket.once('connect_error', (error) => finish(error))
  })
}

let RpcClient = null
// The browser-function module of the server at a port: { hash, functions }.
const modules = new Map()

async function browserModule (port) {
  const root = `http://127.0.0.1:${port}/rpc/`
  const entry = await (await fetch(`${root}client.js`, { signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS) })).text()
  const hash = /functions\.([\w-]+)\.js/.exec(entry)?.[1]
  if (hash === undefined) throw new Error(`no RPC client at ${root}client.js`)
  const source = await (await fetch(`${root}functions.${hash}.js`, { signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS) })).text()
  const { functions } = await import(`data:text/javascript,${encodeURIComponent(source)}`)
  return { hash, functions }
}

async function openPage (port) {
  RpcClient ??= (await import('fastify-datastar/rpc')).RpcClient
  if (!modules.has(port)) modules.set(port, browserModule(port))
  const module = await modules.get(port)
  return new Promise((resolve) => {
    const client = new RpcClient({ url: `ws://127.0.0.1:${port}/rpc/socket`, WebSocket, module })
    const connection = { events: 0, close: () => client.close() }
    const finish = attempt(resolve, { abort: () => client.close(), connection: () => connection })
    client.start().then(() => finish(), (error) => finish(error))
  })
}

const OPEN = { echo: openEcho, 'socket.io': openSocketIo, rpc: openPage }

const generator = new LoadGenerator(({ port, page }, source) => {
  const open = OPEN[page]
  if (open === undefined) throw new Error(`unknown page ${page}`)
  // Pages come from 127.0.0.1 (the RPC client opens its own sockets): run.mjs keeps N under 20,000.
  return open(port, source)
})

runClient(generator, import.meta.url)
