// Diagnostic (idle memory only, by default): Fastify itself, no SSE library.
// The handler hijacks the reply and writes the head on the raw response, which
// is kept in a set and written to as raw does. The gap to raw is what Fastify's
// per-request objects cost; the gap from here to fastify-datastar is ours.
import Fastify from 'fastify'
import { EVENT, serve, writeStreamHead } from './common.mjs'

await serve(async () => {
  const open = new Set()
  const app = Fastify({ logger: false })
  app.get('/sse', (request, reply) => {
    reply.hijack()
    const res = reply.raw
    writeStreamHead(res)
    open.add(res)
    res.on('close', () => open.delete(res))
  })
  await app.listen({ host: '127.0.0.1', port: 0, backlog: 4096 })
  return {
    port: app.server.address().port,
    count: () => open.size,
    broadcast (json, seq) {
      const bytes = Buffer.from(`id: ${seq}\nevent: ${EVENT}\ndata: signals ${json}\n\n`)
      for (const res of open) res.write(bytes)
    },
    close: async () => {
      app.server.closeAllConnections()
      await app.close()
    }
  }
})
