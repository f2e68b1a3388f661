// The servers of bench/websocket (one process each, servers/<script>), and
// which client speaks to them: `frames` is client.mjs's own minimal WebSocket
// decoder (plain TCP), `socket.io-client` is socket.io-client 4 with
// transports: ['websocket'].
import { lookup } from '../common/variants.mjs'

export const VARIANTS = [
  { id: 'raw-ws', label: 'ws WebSocketServer on node:http (pre-encoded Buffer, hand loop)', short: 'raw ws', script: 'raw-ws.mjs', protocol: 'ws', client: 'frames' },
  { id: 'fastify-websocket', label: 'Fastify + @fastify/websocket (Set, hand loop)', short: '@fastify/websocket', script: 'fastify-websocket.mjs', protocol: 'ws', client: 'frames' },
  { id: 'socket.io', label: 'socket.io (room, io.to().emit()), socket.io-client', short: 'socket.io', script: 'socket-io.mjs', protocol: 'socket.io', client: 'socket.io-client' },
  { id: 'fastify-datastar', label: 'fastify-datastar (resource, instance.broadcast())', short: 'fastify-datastar', script: 'fastify-datastar.mjs', protocol: 'ws', client: 'frames', ours: true }
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
