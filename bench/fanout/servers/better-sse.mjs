// Peer 4: better-sse, one session per connection registered with a channel;
// a broadcast is channel.broadcast() (which serializes per session). Keep-alive
// comments off.
import http from 'node:http'
import { createChannel, createSession } from 'better-sse'
import { EVENT, closeHttp, serve } from './common.mjs'

await serve(async () => {
  const channel = createChannel()
  const server = http.createServer(async (req, res) => {
    if (req.url !== '/sse') {
      res.writeHead(404).end()
      return
    }
    // The data is the Datastar line already serialized: sent as is.
    const session = await createSession(req, res, { keepAlive: null, retry: null, serializer: (data) => data })
    channel.register(session)
  })
  await new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve))
  return {
    port: server.address().port,
    count: () => channel.sessionCount,
    broadcast (json, seq) {
      channel.broadcast('signals ' + json, EVENT, { eventId: String(seq) })
    },
    close: () => closeHttp(server)
  }
})
