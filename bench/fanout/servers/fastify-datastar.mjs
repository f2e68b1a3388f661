// Ours: fastify-datastar (the package by name, built to dist/). Each
// connection is a Datastar stream (compression and keep-alive off) added to
// the registry 'bench'; a broadcast is registry.patchSignals(), encoded once
// and the same bytes written to every subscriber. With FANOUT_COALESCE=<ms>
// the registry gathers the events of each window into one write per subscriber.
// With FANOUT_NO_REGISTRY=1 (a diagnostic) the streams are kept in a plain Set
// instead and each event, encoded once as raw does, is handed to every
// stream's write(): what the stream alone costs, without the registry.
import process from 'node:process'
import Fastify from 'fastify'
import fastifyDatastar from 'fastify-datastar'
import { EVENT, serve } from './common.mjs'

// Unset: the registry's default (coalesce 0); 'false' or a number of ms: that setting.
const setting = process.env.FANOUT_COALESCE
const coalesce = setting === undefined ? undefined : setting === 'false' ? false : Number(setting)
const noRegistry = process.env.FANOUT_NO_REGISTRY === '1'

await serve(async () => {
  const app = Fastify({ logger: false })
  await app.register(fastifyDatastar, { compression: false, keepAlive: false })
  // The defaults otherwise (a replay ring of 256 events, which the peers do not keep).
  const registry = app.registry('bench', coalesce === undefined ? undefined : { coalesce })
  const streams = new Set()
  app.get('/sse', async (request, reply) => {
    const stream = reply.datastar({ compression: false, keepAlive: false })
    if (noRegistry) {
      streams.add(stream)
      stream.onClose(() => streams.delete(stream))
      return
    }
    registry.add(stream)
  })
  await app.listen({ host: '127.0.0.1', port: 0, backlog: 4096 })
  return {
    port: app.server.address().port,
    count: () => noRegistry ? streams.size : registry.size,
    broadcast (json, seq) {
      if (noRegistry) {
        const bytes = Buffer.from(`id: ${seq}\nevent: ${EVENT}\ndata: signals ${json}\n\n`)
        for (const stream of streams) stream.write(bytes)
        return
      }
      // The registry gives the id.
      registry.patchSignals(json)
    },
    close: async () => {
      app.server.closeAllConnections()
      await app.close()
    }
  }
})
