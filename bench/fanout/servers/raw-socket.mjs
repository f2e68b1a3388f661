// Diagnostic (not run by default): node:http for the request and the head,
// then each event written straight to the socket as one pre-framed HTTP/1.1
// chunk (`<hex size>\r\n<event>\r\n`, built once per event), skipping
// ServerResponse#write's per-call work (cork, nextTick uncork, a 3-buffer writev).
import { EVENT, closeHttp, listenForStreams, serve, writeStreamHead } from './common.mjs'

await serve(async () => {
  const open = new Set()
  const server = await listenForStreams((req, res) => {
    writeStreamHead(res)
    open.add(res.socket)
    res.on('close', () => open.delete(res.socket))
  })
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
