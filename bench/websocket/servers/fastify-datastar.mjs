// Ours: fastify-datastar's WebSocket plugin (built to dist/plugins/websocket.js
// by `npm run build`). Every client connects to the resource '/bench' (no
// heartbeat, no Origin check) and lands in its one instance; a broadcast is
// instance.broadcast(text): encoded and framed once, the frame written to every
// socket.
// WS_BENCH_PLUGIN=<path> loads the plugin from another build instead (to try
// one before it is in dist/).
import process from 'node:process'
import { pathToFileURL } from 'node:url'
import Fastify from 'fastify'
import { serve } from './common.mjs'

const { default: websocket } = await import(process.env.WS_BENCH_PLUGIN === undefined ? '../../../dist/plugins/websocket.js' : pathToFileURL(process.env.WS_BENCH_PLUGIN).href)

await serve(async () => {
  const app = Fastify({ logger: false })
  await app.register(websocket, { heartbeat: false, origins: false })
  const bench = app.resource('/bench', {})
  await app.listen({ host: '127.0.0.1', port: 0, backlog: 4096 })
  return {
    port: app.server.address().port,
    count: () => bench.get('/bench')?.clients.size ?? 0,
    broadcast (text) {
      return bench.get('/bench')?.broadcast(text) ?? 0
    },
    close: async () => {
      app.server.closeAllConnections()
      await app.close()
    }
  }
})
