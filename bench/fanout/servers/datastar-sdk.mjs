// Peer 2: the official Datastar TypeScript SDK over node:http. One
// ServerSentEventGenerator per connection; a broadcast calls its
// patchSignals on each (the SDK builds and writes the event per connection).
import http from 'node:http'
import { ServerSentEventGenerator } from '@starfederation/datastar-sdk'
import { closeHttp, serve } from './common.mjs'

await serve(async () => {
  const open = new Set()
  const server = http.createServer((req, res) => {
    if (req.url !== '/sse') {
      res.writeHead(404).end()
      return
    }
    let generator
    ServerSentEventGenerator.stream(req, res, (sse) => {
      generator = sse
      open.add(sse)
    }, {
      // Stay open after the callback, until the client goes.
      keepalive: true,
      onAbort: () => { open.delete(generator) }
    })
  })
  await new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve))
  return {
    port: server.address().port,
    count: () => open.size,
    broadcast (json, seq) {
      const eventId = String(seq)
      for (const sse of open) sse.patchSignals(json, { eventId })
    },
    close: () => closeHttp(server)
  }
})
