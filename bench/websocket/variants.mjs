// The servers of bench/websocket (one process each, servers/<script>; a
// variant with `nodes: 2` is that many processes on one redis-server), and
// which client speaks to them: `frames` is client.mjs's own minimal WebSocket
// decoder (plain TCP), `socket.io-client` is socket.io-client 4 with
// transports: ['websocket'].
import { lookup } from '../common/variants.mjs'

export const VARIANTS = [
  { id: 'raw-ws', label: 'ws WebSocketServer on node:http (pre-encoded Buffer, hand loop)', short: 'raw ws', script: 'raw-ws.mjs', protocol: 'ws', client: 'frames' },
  { id: 'fastify-websocket', label: 'Fastify + @fastify/websocket (Set, hand loop)', short: '@fastify/websocket', script: 'fastify-websocket.mjs', protocol: 'ws', client: 'frames' },
  { id: 'socket.io', label: 'socket.io (room, io.to().emit()), socket.io-client', short: 'socket.io', script: 'socket-io.mjs', protocol: 'socket.io', client: 'socket.io-client' },
  { id: 'fastify-datastar', label: 'fastify-datastar (resource, instance.broadcast())', short: 'fastify-datastar', script: 'fastify-datastar.mjs', protocol: 'ws', client: 'frames', ours: true },
  // The room across nodes (issue #13): two server processes on one redis-server started by run.mjs, half the
  // clients on each, every broadcast from the first node. Broadcast rounds only (nodes: 2), against the one-node row.
  { id: 'fastify-datastar-2-nodes', label: 'fastify-datastar on two nodes (one room over two processes and one redis-server, instance.broadcast() on node A)', short: 'fastify-datastar, 2 nodes', script: 'fastify-datastar.mjs', protocol: 'ws', client: 'frames', ours: true, nodes: 2 }
]

// Diagnostics, never compared against the targets; each runs in its phases only
// (unless named in --variants). socket.io-frames is the same socket.io server
// read by the minimal frame client instead of socket.io-client: what the server
// alone can deliver when the client is not the bottleneck. fastify-datastar-core
// is our resource layer (ResourceRoute from dist/src/websocket/) on a bare ws
// server, no Fastify: what the layer costs per client on top of raw ws,
// without the Fastify request `client.request` keeps for the upgrade's lifetime.
export const DIAGNOSTICS = [
  { id: 'socket.io-frames', label: 'diagnostic: socket.io server, read by the minimal frame client', short: 'diag: socket.io, frame client', script: 'socket-io.mjs', protocol: 'socket.io', client: 'frames', diagnostic: true, phases: ['fanout'] },
  { id: 'fastify-datastar-core', label: 'diagnostic: fastify-datastar resource layer on a bare ws server, no Fastify', short: 'diag: resource layer, no Fastify', script: 'fastify-datastar-core.mjs', protocol: 'ws', client: 'frames', diagnostic: true, phases: ['idle'] }
]

/** The variant of an id. */
export const variantById = lookup(VARIANTS, DIAGNOSTICS)
