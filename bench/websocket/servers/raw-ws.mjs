// Peer 1, the baseline: a bare `ws` WebSocketServer on node:http. Each
// message is encoded once into a Buffer and that Buffer sent (as a text
// frame) to every client of wss.clients in a loop.
import { WebSocketServer } from 'ws'
import { closeHttp, listenHttp, serve } from './common.mjs'

await serve(async () => {
  const server = await listenHttp()
  // perMessageDeflate off (ws's default for servers, spelled out): no variant compresses.
  const wss = new WebSocketServer({ server, path: '/bench', perMessageDeflate: false })
  return {
    port: server.address().port,
    count: () => wss.clients.size,
    broadcast (text) {
      const buf = Buffer.from(text)
      for (const c of wss.clients) c.send(buf, { binary: false })
      return wss.clients.size
    },
    close: async () => {
      for (const c of wss.clients) c.terminate()
      await new Promise((resolve) => wss.close(resolve))
      await closeHttp(server)
    }
  }
})
