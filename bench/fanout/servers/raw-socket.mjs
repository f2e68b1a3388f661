// Diagnostic (not run by default): node:http for the request and the head,
// then each event written straight to the socket as one pre-framed HTTP/1.1
// chunk (`<hex size>\r\n<event>\r\n`, built once per event), skipping
// ServerResponse#write's per-call work (cork, nextTick uncork, a 3-buffer writev).
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
    open.add(res.socket)
    res.on('close', () => open.delete(res.socket))
  })
  await new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve))
  return {
    port: server.address().port,
    count: () => open.size,
    broadcast (json, seq) {
      const event = Buffer.from(`id: ${seq}\nevent: ${EVENT}\ndata: signals ${json}\n\n`)
      const chunk = Buffer.concat([Buffer.from(event.length.toString(16) + '\r\n'), event, Buffer.from('\r\n')])
      for (const socket of open) socket.write(chunk)
    },
    close: () => closeHttp(server)
  }
})
