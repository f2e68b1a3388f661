// Peer 1, the baseline: node:http, each event encoded once into a Buffer and
// that Buffer written to every open response in a loop.
import { EVENT, closeHttp, listenForStreams, serve, writeStreamHead } from './common.mjs'

await serve(async () => {
  const open = new Set()
  const server = await listenForStreams((req, res) => {
    writeStreamHead(res)
    open.add(res)
    res.on('close', () => open.delete(res))
  })
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
