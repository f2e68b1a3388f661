// Peer 3: @fastify/sse. Each connection's reply.sse is kept open
// (keepAlive()) in a set; a broadcast calls reply.sse.send() on each, which
// formats the message per connection. Heartbeats off.
import Fastify from 'fastify'
import fastifySse from '@fastify/sse'
import { EVENT, serve } from './common.mjs'

await serve(async () => {
  const open = new Set()
  const app = Fastify({ logger: false })
  await app.register(fastifySse, { heartbeatInterval: 0 })
  app.get('/sse', { sse: { kind: 'only', heartbeat: false, serializer: (data) => data } }, async (request, reply) => {
    const sse = reply.sse
    sse.keepAlive()
    // Headers go out with the first event otherwise: send the head now, as the other servers do.
    sse.sendHeaders()
    reply.raw.flushHeaders()
    open.add(sse)
    sse.onClose(() => open.delete(sse))
  })
  await app.listen({ host: '127.0.0.1', port: 0, backlog: 4096 })
  return {
    port: app.server.address().port,
    count: () => open.size,
    broadcast (json, seq) {
      const message = { id: String(seq), event: EVENT, data: 'signals ' + json }
      // send() returns a promise per connection (settled on write or drain).
      for (const sse of open) sse.send(message).catch(() => {})
    },
    close: async () => {
      app.server.closeAllConnections()
      await app.close()
    }
  }
})
