// Peer 1, the baseline: node:http, each event encoded once into a Buffer and
// that Buffer written to every open response in a loop.
import http from 'node:http'
import { EVENT, closeHttp, serve } from './common.mjs'

await serve(async () => {
  const open = new Set()
  const server = http.createServer((req, res) => {
    if (req.url !== '/sse') {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive'
    })
    res.flushHeaders()
    open.add(res)
    res.on('close', () => open.delete(res))
  })
  await new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve))
  return {
    port: server.address().port,
    count: () => open.size,
    broadcast (json, seq) {
      const bytes = Buffer.from(`id: ${seq}\nevent: ${EVENT}\ndata: signals ${json}\n\n`)
      for (const res of open) res.write(bytes)
    },
    close: () => closeHttp(server)
  }
})
