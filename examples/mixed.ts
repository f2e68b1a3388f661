/**
 * One registry, two transports: a Datastar page and WebSocket clients watch
 * the same shared counter.
 *
 * - State: a counter and a line saying what changed it last.
 * - The registry `app.registry('ticker')` has two kinds of subscribers: the
 *   page's Datastar stream (`GET /mixed/updates`, one `reply.datastar()`
 *   stream per tab) and the clients of the WebSocket resource `/ws/ticker`.
 *   A WebSocket client is a registry `Subscriber` like a stream: it gets the
 *   very same events, each as one JSON text message
 *   `{ "event": "datastar-patch-signals", "id": "…", "data": "signals {\"count\":1}" }`.
 * - Commands come from either side: `POST /mixed/increment` (or `decrement`,
 *   `reset`) from the page's buttons, or a WebSocket text message
 *   `{ "command": "increment" }`. Both change the state the same way and
 *   broadcast it with `registry.patchSignals()` (the count) and
 *   `registry.patchElements()` (the "last change" line), encoded once for all.
 * - A new subscriber first gets the current state, then joins the registry;
 *   the state is the whole view, so the registry keeps no replay (`replay: 0`).
 *
 * The page shows both at once: the Datastar part (`data-text`, `@post`) and,
 * under it, a few lines of plain JavaScript that open `/ws/ticker`, print what
 * arrives and send a command over the socket.
 *
 * Run it alone: `npm run build && node dist/examples/mixed.js`, then open
 * http://127.0.0.1:3008/mixed in two tabs.
 */
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import datastar, { type Subscriber } from 'fastify-datastar'
import { escapeHtml, patchElementsEvent, patchSignalsEvent } from 'fastify-datastar/core'
import websocket, { type WebSocketPluginOptions } from 'fastify-datastar/websocket'
import { isMain, serveAlone } from './run-alone.js'

/** The name of the registry both transports join. */
export const MIXED_REGISTRY = 'ticker'

/** What a command does to the counter. */
export const TickerCommand = Type.Union([Type.Literal('increment'), Type.Literal('decrement'), Type.Literal('reset')])

/** A command: `'increment'`, `'decrement'` or `'reset'`. */
export type Command = Static<typeof TickerCommand>

/** The `:command` of `POST /mixed/:command`. */
export const CommandParams = Type.Object({ command: TickerCommand })

/** A WebSocket client's message: a command. */
export const CommandMessage = Type.Object({ command: TickerCommand })

/** Where a command came from. */
export type CommandSource = 'the page' | 'a WebSocket client'

/** The shared state. */
export interface TickerState {
  count: number
  /** What changed it last, or undefined before any change. */
  last: { command: Command, source: CommandSource } | undefined
}

/** The "last change" line: the target of `patchElements`. */
export function renderLast (state: TickerState): string {
  const text = state.last === undefined
    ? 'No change yet.'
    : `Last change: ${state.last.command}, from ${state.last.source}.`
  return `<p id="last">${escapeHtml(text)}</p>`
}

/** The page: the Datastar counter, and a plain WebSocket client of the same registry. */
function page (clientUrl: string, state: TickerState): string {
  const signals = escapeHtml(JSON.stringify({ count: state.count }))
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>fastify-datastar: one registry, two transports</title>
  <link rel="icon" href="data:,">
  <script type="module" src="${clientUrl}"></script>
  <style>
    body { font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem }
    section { border: 1px solid #ccc; border-radius: .5rem; padding: 0 1rem 1rem; margin: 1.5rem 0 }
    #count { font-size: 2rem; min-width: 3ch; display: inline-block; text-align: center }
    #ws-log { font: .85rem ui-monospace, monospace; list-style: none; padding: 0; overflow-x: auto }
  </style>
</head>
<body>
  <h1>One registry, two transports</h1>

  <section data-signals="${signals}" data-init="@get('/mixed/updates')">
    <h2>Datastar (Server-Sent Events)</h2>
    <p>
      <button data-on:click="@post('/mixed/decrement')">−</button>
      <output id="count" data-text="$count">${state.count}</output>
      <button data-on:click="@post('/mixed/increment')">+</button>
      <button data-on:click="@post('/mixed/reset')">Reset</button>
    </p>
    ${renderLast(state)}
  </section>

  <section>
    <h2>WebSocket (<code>/ws/ticker</code>)</h2>
    <p><span id="ws-status">Connecting…</span> <button id="ws-increment" disabled>+ over the WebSocket</button></p>
    <ol id="ws-log" reversed></ol>
  </section>

  <script>
    const status = document.getElementById('ws-status')
    const button = document.getElementById('ws-increment')
    const log = document.getElementById('ws-log')
    const url = new URL('/ws/ticker', location.href)
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
    const socket = new WebSocket(url)
    socket.addEventListener('open', () => { status.textContent = 'Connected.'; button.disabled = false })
    socket.addEventListener('close', (event) => { status.textContent = 'Closed (' + event.code + ').'; button.disabled = true })
    socket.addEventListener('message', (event) => {
      // What the registry sent: { event, id, data }, shown as text.
      const item = document.createElement('li')
      item.textContent = event.data
      log.prepend(item)
      while (log.children.length > 10) log.lastElementChild.remove()
    })
    button.addEventListener('click', () => { socket.send(JSON.stringify({ command: 'increment' })) })
  </script>
</body>
</html>
`
}

/** The mixed example's routes; register `fastify-datastar` and `fastify-datastar/websocket` first. */
export const mixed: FastifyPluginAsync = async (fastify) => {
  // This plugin's own state, so every app built starts at 0.
  const state: TickerState = { count: 0, last: undefined }
  // Subscriber, not the default DatastarStream: WebSocket clients join it too.
  const ticker = fastify.registry<Subscriber>(MIXED_REGISTRY, { replay: 0 })

  /** Changes the state and broadcasts it to every subscriber, whatever its transport. */
  async function apply (command: Command, source: CommandSource): Promise<void> {
    state.count = command === 'increment' ? state.count + 1 : command === 'decrement' ? state.count - 1 : 0
    state.last = { command, source }
    await ticker.patchSignals({ count: state.count })
    await ticker.patchElements(renderLast(state))
  }

  fastify.get('/mixed', async (_request, reply) => {
    return reply.type('text/html; charset=utf-8').send(page(fastify.datastarUrl(), state))
  })

  // The page's read stream: the current state, then every change.
  fastify.get('/mixed/updates', async (_request, reply) => {
    const sse = reply.datastar()
    sse.patchSignals({ count: state.count })
    sse.patchElements(renderLast(state))
    ticker.add(sse)
  })

  // The page's commands: the answer is 204, the change comes through the stream.
  fastify.post('/mixed/:command', { schema: { params: CommandParams } }, async (request, reply) => {
    const { command } = request.params as Static<typeof CommandParams>
    await apply(command, 'the page')
    return reply.code(204).send()
  })

  // The WebSocket side: the same two events for the current state (in the
  // JSON envelope, like every registry event), then every change.
  fastify.resource('/ws/ticker', {
    schema: CommandMessage,
    connected: (client) => {
      client.write(patchSignalsEvent({ count: state.count }))
      client.write(patchElementsEvent(renderLast(state)))
      ticker.add(client)
    },
    message: (_client, message) => apply(message.command, 'a WebSocket client')
  })
}

/** The mixed app: `fastify-datastar`, its WebSocket plugin and the example's routes, with its page at `/mixed`. */
export async function buildMixedApp (options: FastifyServerOptions = {}, websocketOptions: WebSocketPluginOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(options)
  await app.register(datastar)
  await app.register(websocket, websocketOptions)
  await app.register(mixed)
  return app
}

if (isMain(import.meta.url)) await serveAlone(() => buildMixedApp({ logger: true }), 3008, 'Mixed example', '/mixed')
