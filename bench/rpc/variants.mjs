// The servers of bench/rpc (one process each, servers/<script>; a variant
// with `nodes: 2` is that many processes on one redis-server), and which
// page client.mjs runs against them: `echo`, a ws WebSocket that sends every
// message back; `socket.io`, socket.io-client 4 (transports: ['websocket'])
// acking 'echo' and 'add'; `rpc`, fastify-datastar's RpcClient (the module
// pages run) on ws, with the browser functions the server serves.
import { lookup } from '../common/variants.mjs'

export const VARIANTS = [
  { id: 'raw-ws', label: 'ws WebSocketServer on node:http, the client echoes (FIFO of waiting sends)', short: 'raw ws echo', script: 'raw-ws.mjs', page: 'echo' },
  { id: 'socket.io', label: 'socket.io: socket.emitWithAck() / io.timeout().emitWithAck(), socket.io-client acks', short: 'socket.io acks', script: 'socket-io.mjs', page: 'socket.io' },
  { id: 'fastify-datastar', label: 'fastify-datastar/rpc: session.call() / app.rpc.callAll(), RpcClient pages', short: 'fastify-datastar rpc', script: 'fastify-datastar.mjs', page: 'rpc', ours: true },
  // Sessions across nodes (issue #13): two server processes on one redis-server started by run.mjs, half the
  // pages on each, callAll() from the first node. Calls to all only (nodes: 2), against the one-node row.
  { id: 'fastify-datastar-2-nodes', label: 'fastify-datastar/rpc on two nodes (two processes, one redis-server): app.rpc.callAll() on node A over both nodes\' sessions', short: 'fastify-datastar rpc, 2 nodes', script: 'fastify-datastar.mjs', page: 'rpc', ours: true, nodes: 2 }
]

export const DIAGNOSTICS = []

/** The variant of an id. */
export const variantById = lookup(VARIANTS, DIAGNOSTICS)
