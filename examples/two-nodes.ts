/**
 * Two nodes, one Redis: a message board served by two Fastify instances on
 * two ports, as two processes behind a load balancer would be.
 *
 * - Each node registers `fastify-datastar` with a `RedisBackplane` of its
 *   own: `app.registry('board')` is then one registry across the nodes.
 * - Each node serves a page (`GET /`) whose stream (`GET /board/updates`)
 *   joins the registry on that node.
 * - A message posted on either node (`POST /board/messages`) is broadcast with
 *   `registry.patchElements(...)`: it goes through a Redis Stream and every
 *   node writes it to its own subscribers, so the pages of both nodes show it,
 *   in the same order. The POST answers by clearing the poster's input.
 * - Event ids are Redis stream ids, the same on every node: a page whose
 *   stream reconnects (the Datastar client retries with `Last-Event-ID`) gets
 *   the messages it missed, whichever node it reaches.
 *
 * Run it alone, with a Redis at REDIS_URL (default redis://127.0.0.1:6379):
 * `npm run build && node dist/examples/two-nodes.js`, then open
 * http://127.0.0.1:3005/ and http://127.0.0.1:3006/ side by side.
 */
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify'
import { Type } from '@sinclair/typebox'
import datastar from 'fastify-datastar'
import { escapeHtml } from 'fastify-datastar/core'
import { RedisBackplane, type RedisBackplaneOptions } from 'fastify-datastar/redis'
import { buildPair, isMain, serveTwoNodes } from './run-alone.js'

/** The signals of `POST /board/messages`: the text typed. */
export const MessageSignals = Type.Object({
  text: Type.String({ minLength: 1, maxLength: 500, pattern: '\\S' })
})

/** The name of the registry the nodes share. */
export const BOARD_REGISTRY = 'board'

/** One message, as every page shows it. */
export function renderMessage (node: string, text: string): string {
  return `<li><b>${escapeHtml(node)}</b>: ${escapeHtml(text)}</li>`
}

function page (clientUrl: string, node: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>fastify-datastar: node ${escapeHtml(node)}</title>
  <script type="module" src="${clientUrl}"></script>
  <style>body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem }</style>
</head>
<body>
  <div data-signals="{text: ''}" data-init="@get('/board/updates')">
    <h1>Node ${escapeHtml(node)}</h1>
    <p>Messages posted on any node, from now on:</p>
    <ul id="messages"></ul>
    <input data-bind:text placeholder="Say something" maxlength="500"
           data-on:keydown="evt.key === 'Enter' && @post('/board/messages')">
    <button data-on:click="@post('/board/messages')">Post on node ${escapeHtml(node)}</button>
  </div>
</body>
</html>
`
}

/** The board's routes for the node named `node`; register `fastify-datastar` first. */
export function board (node: string): FastifyPluginAsync {
  return async (fastify) => {
    fastify.get('/', async (_request, reply) => {
      return reply.type('text/html; charset=utf-8').send(page(fastify.datastarUrl(), node))
    })

    // The read side: one stream per page, on whichever node serves it.
    fastify.get('/board/updates', async (_request, reply) => {
      fastify.registry(BOARD_REGISTRY).add(reply.datastar())
    })

    // The write side: broadcast to every node, then clear the poster's input.
    fastify.post('/board/messages', { schema: { signals: MessageSignals } }, async (request, reply) => {
      const { text } = request.readSignals()
      await fastify.registry(BOARD_REGISTRY).patchElements(renderMessage(node, text.trim()), { selector: '#messages', mode: 'append' })
      return reply.datastar(async (sse) => { await sse.patchSignals({ text: '' }) })
    })
  }
}

/** Options of `buildTwoNodes()`. */
export interface TwoNodesOptions {
  /** Where Redis is: a redis:// URL or ioredis options. Default redis://127.0.0.1:6379. */
  redis?: RedisBackplaneOptions['redis']
  /** Options of both Fastify instances. */
  server?: FastifyServerOptions
}

/** One node: `fastify-datastar` with its own connection to the shared backplane, and the board. */
async function buildNode (node: string, options: TwoNodesOptions): Promise<FastifyInstance> {
  const app = Fastify(options.server)
  // The plugin closes the backplane with the app.
  const backplane = new RedisBackplane({
    redis: options.redis,
    onError: (err) => { app.log.warn({ err }, 'redis backplane') }
  })
  await app.register(datastar, { registry: { backplane } })
  await app.register(board(node))
  return app
}

/**
 * Two nodes, A and B, sharing the board through Redis; neither is listening
 * yet: give each its own port.
 * @example
 * const { a, b } = await buildTwoNodes({ redis: 'redis://127.0.0.1:6379' })
 * await a.listen({ port: 3005 })
 * await b.listen({ port: 3006 })
 */
export async function buildTwoNodes (options: TwoNodesOptions = {}): Promise<{ a: FastifyInstance, b: FastifyInstance }> {
  return await buildPair((name) => buildNode(name, options))
}

if (isMain(import.meta.url)) {
  const nodes = await buildTwoNodes({ redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', server: { logger: true } })
  await serveTwoNodes(nodes, [3005, 3006], 'two-nodes example', '/')
}
