// Peer 2: Fastify 5 + @fastify/websocket, a `{ websocket: true }` route; the
// sockets are kept in a Set by hand and each message, encoded once into a
// Buffer, is sent (as a text frame) to every one of them in a loop.
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import { serve } from './common.mjs'

await serve(async () => {
  const app = Fastify({ logger: false })
  await app.register(websocket, { options: { perMessageDeflate: false } })
  const clients = new Set()
  app.register(async (scope) => {
    scope.get('/bench', { websocket: true }, (socket) => {
      clients.add(socket)
      socket.on('close', () => clients.delete(socket))
    })
  })
  await app.listen({ host: '127.0.0.1', port: 0, backlog: 4096 })
  return {
    port: app.server.address().port,
    count: () => clients.size,
    broadcast (text) {
      const buf = Buffer.from(text)
      for (const c of clients) c.send(buf, { binary: false })
      return clients.size
    },
    close: async () => {
      for (const c of clients) c.terminate()
      app.server.closeAllConnections()
      await app.close()
    }
  }
})
