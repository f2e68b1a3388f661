// Diagnostic: fastify-datastar's resource layer without Fastify. A bare `ws`
// WebSocketServer on node:http (as raw-ws) whose 'connection' handler hands
// each socket to a ResourceRoute (dist/src/websocket/resource-route.js) with no
// request (`request: undefined`), every client in the instance '/bench' (no
// heartbeat); a broadcast is route.get('/bench').broadcast(text): encoded once,
// handed to every client. Against raw-ws: what the resource layer itself costs
// per client; against fastify-datastar: what the Fastify request that
// `client.request` keeps for the upgrade's lifetime (and the plugin) cost.
import { WebSocketServer } from 'ws'
import { closeHttp, listenHttp, serve } from './common.mjs'

const { ResourceRoute } = await import('../../../dist/src/websocket/resource-route.js')
const { resolveResourceOptions } = await import('../../../dist/src/websocket/options.js')

await serve(async () => {
  const server = await listenHttp()
  // perMessageDeflate off (as in raw-ws): no variant compresses.
  const wss = new WebSocketServer({ server, path: '/bench', perMessageDeflate: false })
  const route = new ResourceRoute('/bench', { options: resolveResourceOptions({ heartbeat: false }), onError: () => {} })
  wss.on('connection', (socket) => {
    route.accept({ socket, request: undefined, name: '/bench', data: {} })
  })
  return {
    port: server.address().port,
    count: () => route.get('/bench')?.clients.size ?? 0,
    broadcast (text) {
      return route.get('/bench')?.broadcast(text) ?? 0
    },
    close: async () => {
      for (const c of wss.clients) c.terminate()
      await new Promise((resolve) => wss.close(resolve))
      await closeHttp(server)
    }
  }
})
