// Peer 3: socket.io 4 on node:http, WebSocket transport only; every client
// joins the room 'bench' and a broadcast is io.to('bench').emit('m', text)
// (socket.io encodes the packet, and here the WebSocket frame, once per emit).
// On the wire each message is the frame `42["m","<text>"]`.
import { Server } from 'socket.io'
import { closeHttp, listenHttp, serve } from './common.mjs'

await serve(async () => {
  const server = await listenHttp()
  // Defaults otherwise (ping every 25 s: socket.io's heartbeat is part of what it is).
  const io = new Server(server, { transports: ['websocket'], serveClient: false, perMessageDeflate: false })
  io.on('connection', (socket) => socket.join('bench'))
  return {
    port: server.address().port,
    count: () => io.of('/').adapter.rooms.get('bench')?.size ?? 0,
    broadcast (text) {
      io.to('bench').emit('m', text)
    },
    close: async () => {
      io.disconnectSockets(true)
      await new Promise((resolve) => io.close(() => resolve()))
      await closeHttp(server).catch(() => {})
    }
  }
})
