// Ours: fastify-datastar's WebSocket plugin (built to dist/plugins/websocket.js
// by `npm run build`). Every client connects to the resource '/bench' (no
// heartbeat, no Origin check) and lands in its one instance; a broadcast is
// instance.broadcast(text): encoded and framed once, the frame written to every
// socket.
// WS_BENCH_PLUGIN=<path> loads the plugin from another build instead (to try
// one before it is in dist/).
// With BENCH_REDIS_URL (run.mjs's two-node row starts the redis-server), the
// plugin gets a RedisBackplane (fastify-datastar/redis: dist/ as well): this
// process is one node of a cluster, the room '/bench' is one room across the
// nodes, and instance.broadcast(text) reaches the other node's clients through
// Redis as well; count() stays this node's clients.
import process from 'node:process'
import { pathToFileURL } from 'node:url'
import Fastify from 'fastify'
import { serve, until } from './common.mjs'

const { default: websocket } = await import(process.env.WS_BENCH_PLUGIN === undefined ? '../../../dist/plugins/websocket.js' : pathToFileURL(process.env.WS_BENCH_PLUGIN).href)

await serve(async () => {
  const app = Fastify({ logger: false })
  const redis = process.env.BENCH_REDIS_URL
  const backplane = redis === undefined ? undefined : new (await import('fastify-datastar/redis')).RedisBackplane({ redis })
  await app.register(websocket, { heartbeat: false, origins: false, backplane })
  const bench = app.resource('/bench', {})
  await app.listen({ host: '127.0.0.1', port: 0, backlog: 4096 })
  return {
    port: app.server.address().port,
    count: () => bench.get('/bench')?.clients.size ?? 0,
    broadcast (text) {
      return bench.get('/bench')?.broadcast(text) ?? 0
    },
    // A node of a cluster: once it lists every node and its room's relay hears the others' broadcasts.
    ...(backplane === undefined
      ? {}
      : {
          async mesh (nodes, timeoutMs) {
            await until(() => bench.cluster.nodes.length >= nodes, timeoutMs, `${nodes} nodes listed`)
            await bench.ready()
          }
        }),
    close: async () => {
      app.server.closeAllConnections()
      await app.close()
    }
  }
})
