/**
 * The `npm start` demo: the counter, the clock, the Datastar SDK conformance
 * endpoint and browser RPC (examples/rpc.ts) on one server, with a page at
 * `/` that explains the attributes it uses and links to the RPC pages.
 *
 *   npm start                  # http://127.0.0.1:3000/
 *   PORT=8080 npm start
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyServerOptions } from 'fastify'
import { clock, clockFragment } from './clock.js'
import { conformance } from './conformance.js'
import { counter, counterFragment } from './counter.js'
import { omg } from './rpc.js'
import { exampleApp, isMain, serveAlone } from './run-alone.js'

/** The page at `/`. Nothing to escape: every value in it is the app's own. */
function page (clientUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>fastify-datastar demo</title>
  <!-- The Datastar client: fastify.datastarUrl() says where it is (jsDelivr by default). -->
  <script type="module" src="${clientUrl}"></script>
  <style>
    body { font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5 }
    section { border: 1px solid #ccc; border-radius: .5rem; padding: 0 1rem 1rem; margin: 1.5rem 0 }
    #counter { display: flex; gap: 1rem; align-items: center; font-size: 1.5rem }
    #clock { font: 2rem ui-monospace, monospace }
  </style>
</head>
<body>
  <h1>fastify-datastar</h1>
  <p>
    This page is plain HTML. The Datastar client reads its <code>data-*</code>
    attributes; the server answers with Server-Sent Events that patch signals
    and elements.
  </p>

  <section>
    <h2>Counter: a round trip with signals</h2>
    ${counterFragment}
    <ul>
      <li><code>data-signals</code> creates the signal <code>count</code>, starting at 0.</li>
      <li><code>data-text</code> keeps the number on screen equal to <code>$count</code>.</li>
      <li><code>data-on:click</code> runs <code>@post('/counter/increment')</code> (or decrement):
        the client posts every signal as JSON, here <code>{"count": 0}</code>.</li>
      <li>The route validates the signals with a TypeBox schema
        (<code>schema: { signals: Type.Object({ count: Type.Number() }) }</code>),
        reads them typed with <code>request.readSignals()</code>, and answers with
        <code>reply.datastar(async (sse) =&gt; sse.patchSignals({ count: count + 1 }))</code>:
        one <code>datastar-patch-signals</code> event, then the stream closes.</li>
    </ul>
  </section>

  <section>
    <h2>Clock: a long-lived stream</h2>
    ${clockFragment}
    <ul>
      <li><code>data-init</code> runs <code>@get('/clock')</code> once the element is on the page.</li>
      <li>The route keeps its <code>reply.datastar()</code> stream open and sends a
        <code>datastar-patch-elements</code> event every second; the client morphs the
        new element into the one with the same id, <code>#clock</code>.</li>
      <li>When you leave, <code>sse.onClose()</code> stops the server's timer.</li>
    </ul>
  </section>

  <section>
    <h2>Browser RPC: the server calls the page</h2>
    <p>
      Open <a href="/omg">a page</a> in a few tabs, then <a href="/omg/admin">the admin view</a>.
    </p>
    <ul>
      <li>Each page imports <code>/rpc/client.js</code> and connects: one session per page,
        which survives a short network cut.</li>
      <li>The admin's button runs <code>add(1, 2)</code> in every open page
        (<code>app.rpc.callAll(add, [1, 2])</code>) and lists who answered what.
        <code>add</code> is written on the server and shipped to the pages in a generated module.</li>
      <li>"Ask" calls one page's <code>confirm</code>: the page shows a dialog, the server
        awaits the answer for at most 30 s, and closes the dialog when it gives up.</li>
    </ul>
  </section>

  <section>
    <h2>SDK conformance</h2>
    <p>
      <code>GET</code> and <code>POST /test</code> answer the official Datastar SDK
      test suite: the signals hold an <code>events</code> array, and each entry
      becomes one SDK call.
    </p>
  </section>
</body>
</html>
`
}

/**
 * The demo's routes: the counter, the clock, the conformance endpoint, the RPC
 * example and the page at `/`. Register `fastify-datastar` on the instance first.
 */
export const demo: FastifyPluginAsync = async (fastify) => {
  await fastify.register(counter)
  await fastify.register(clock)
  await fastify.register(conformance)
  await fastify.register(omg)
  fastify.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page(fastify.datastarUrl())))
}

/** The demo app: `fastify-datastar` and the demo's routes. */
export async function buildDemoApp (options: FastifyServerOptions = {}): Promise<FastifyInstance> {
  return await exampleApp(demo, options)
}

if (isMain(import.meta.url)) await serveAlone(() => buildDemoApp({ logger: true }), 3000, 'fastify-datastar demo', '/')
