/**
 * A counter: the smallest Datastar round trip.
 *
 * The page holds a `count` signal (`data-signals`), shows it (`data-text`) and
 * posts it on click (`data-on:click="@post(...)"`). The client sends every
 * signal as the JSON body; the route declares their shape with a TypeBox
 * schema, so `request.readSignals()` is validated before the handler runs and
 * typed `{ count: number }`. The answer is an event stream that patches the
 * signal back; the page updates itself.
 *
 * Run it alone: `npm run build && node dist/examples/counter.js`.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyServerOptions } from 'fastify'
import { Type } from '@sinclair/typebox'
import { exampleApp, fragmentPage, isMain, serveAlone } from './run-alone.js'

/** The signals the counter's buttons send. */
export const CounterSignals = Type.Object({ count: Type.Number() })

/**
 * The counter's markup: a fragment that any page (this example's, the demo's)
 * can include once it loads the Datastar client.
 */
export const counterFragment = `<div id="counter" data-signals="{count: 0}">
  <button data-on:click="@post('/counter/decrement')">−</button>
  <output data-text="$count">0</output>
  <button data-on:click="@post('/counter/increment')">+</button>
</div>`

/** The counter's routes; register `fastify-datastar` on the instance first. */
export const counter: FastifyPluginAsync = async (fastify) => {
  // The fragment alone, as HTML, for pages that fetch it.
  fastify.get('/counter', async (_request, reply) => {
    return reply.type('text/html; charset=utf-8').send(counterFragment)
  })

  const schema = { signals: CounterSignals }

  fastify.post('/counter/increment', { schema }, (request, reply) =>
    reply.datastar(async (sse) => {
      await sse.patchSignals({ count: request.readSignals().count + 1 })
    }))

  fastify.post('/counter/decrement', { schema }, (request, reply) =>
    reply.datastar(async (sse) => {
      await sse.patchSignals({ count: request.readSignals().count - 1 })
    }))
}

/** The counter app: `fastify-datastar`, the counter's routes and a page at `/`. */
export async function buildCounterApp (options: FastifyServerOptions = {}): Promise<FastifyInstance> {
  return await exampleApp(counter, options, (clientUrl) => fragmentPage('Counter', clientUrl, counterFragment))
}

if (isMain(import.meta.url)) await serveAlone(() => buildCounterApp({ logger: true }), 3001, 'counter example', '/')
