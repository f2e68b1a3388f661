// The servers of bench/rpc (one process each, servers/<script>), and which
// page client.mjs runs against them: `echo`, a ws WebSocket that sends every
// message back; `socket.io`, socket.io-client 4 (transports: ['websocket'])
// acking 'echo' and 'add'; `rpc`, fastify-datastar's RpcClient (the module
// pages run) on ws, with the browser functions the server serves.
import { lookup } from '../common/variants.mjs'

export const VARIANTS = [
  { id: 'raw-ws', label: 'ws WebSocketServer on node:http, the client echoes (FIFO of waiting sends)', short: 'raw ws echo', script: 'raw-ws.mjs', page: 'echo' },
  { id: 'socket.io', label: 'socket.io: socket.emitWithAck() / io.timeout().emitWithAck(), socket.io-client acks', short: 'socket.io acks', script: 'socket-io.mjs', page: 'socket.io' },
  { id: 'fastify-datastar', label: 'fastify-datastar/rpc: session.call() / app.rpc.callAll(), RpcClient pages', short: 'fastify-datastar rpc', script: 'fastify-datastar.mjs', page: 'rpc', ours: true }
]

export const DIAGNOSTICS = []

/** The variant of an id. */
export const variantById = lookup(VARIANTS, DIAGNOSTICS)
