// socket.io 4 on node:http, WebSocket transport only (defaults otherwise: a
// ping every 25 s). A round trip is socket.emitWithAck('echo', text) to the
// one socket; a call to all is io.timeout(ms).emitWithAck('add', 1, 2), which
// resolves with every socket's ack.
import { Server } from 'socket.io'
import { closeHttp, listenHttp, serve } from './common.mjs'

await serve(async () => {
  const server = await listenHttp()
  const io = new Server(server, { transports: ['websocket'], serveClient: false, perMessageDeflate: false })
  const sockets = io.of('/').sockets
  // The one socket of the round trips (a fresh server each time).
  let one
  return {
    port: server.address().port,
    count: () => sockets.size,
    echo (text) {
      one ??= sockets.values().next().value
      return one.emitWithAck('echo', text)
    },
    async callAll (timeoutMs) {
      const replies = await io.timeout(timeoutMs).emitWithAck('add', 1, 2)
      return { results: replies.length, ok: replies.filter((value) => value === 3).length }
    },
    close: async () => {
      io.disconnectSockets(true)
      await new Promise((resolve) => io.close(() => resolve()))
      await closeHttp(server).catch(() => {})
    }
  }
})
