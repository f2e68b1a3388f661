// Peer 2: the official Datastar TypeScript SDK over node:http. One
// ServerSentEventGenerator per connection; a broadcast calls its
// patchSignals on each (the SDK builds and writes the event per connection).
import { ServerSentEventGenerator } from '@starfederation/datastar-sdk'
import { closeHttp, listenForStreams, serve } from './common.mjs'

await serve(async () => {
  const open = new Set()
  const server = await listenForStreams((req, res) => {
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
