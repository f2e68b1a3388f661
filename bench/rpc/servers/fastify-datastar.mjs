// Ours: fastify-datastar/rpc (the package by name: dist/ after `npm run build`)
// on Fastify, the plugin's defaults. Two browser functions with their bodies
// (shipped in the generated module the pages import): echo(text) → text and
// add(a, b) → a + b, their results checked against their schemas. A round trip
// is session.call(echo, [text]) on the one session; a call to all is
// app.rpc.callAll(add, [1, 2], { timeout }).
// With BENCH_REDIS_URL (run.mjs's two-node row starts the redis-server), the
// plugin gets a RedisBackplane (fastify-datastar/redis): this process is one
// node of the sessions' cluster, and callAll() on it reaches the other node's
// sessions too (their entries come back through Redis); count() stays this
// node's sessions.
import process from 'node:process'
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import rpc from 'fastify-datastar/rpc'
import { serve, until } from './common.mjs'

await serve(async () => {
  const app = Fastify({ logger: false })
  const redis = process.env.BENCH_REDIS_URL
  const backplane = redis === undefined ? undefined : new (await import('fastify-datastar/redis')).RedisBackplane({ redis })
  await app.register(rpc, backplane === undefined ? {} : { backplane })
  const echo = app.rpc.browserFunction('echo', { params: Type.Tuple([Type.String()]), result: Type.String() }, (text) => text)
  const add = app.rpc.browserFunction('add', { params: Type.Tuple([Type.Number(), Type.Number()]), result: Type.Number() }, (a, b) => a + b)
  await app.listen({ host: '127.0.0.1', port: 0, backlog: 4096 })
  // The one session of the round trips (a fresh server each time).
  let one
  return {
    port: app.server.address().port,
    // The sessions a socket carries now (a warm-up page whose bye and close frame were lost would be kept
    // for a resume, 120 s, through the whole idle measurement: in the baseline and after it alike).
    count: () => [...app.rpc.sessions()].filter((session) => session.connected).length,
    echo (text) {
      one ??= app.rpc.sessions().next().value
      return one.call(echo, [text])
    },
    async callAll (timeoutMs) {
      const entries = await app.rpc.callAll(add, [1, 2], { timeout: timeoutMs })
      return { results: entries.length, ok: entries.filter((entry) => entry.status === 'ok' && entry.value === 3).length }
    },
    // A node of a cluster: once app.rpc.nodes() lists every node (this one's callAll() then asks them all).
    ...(backplane === undefined ? {} : { mesh: (nodes, timeoutMs) => until(() => app.rpc.nodes().length >= nodes, timeoutMs, `${nodes} nodes listed`) }),
    close: async () => {
      app.server.closeAllConnections()
      await app.close()
    }
  }
})
