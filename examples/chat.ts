/**
 * Chat rooms over WebSocket: Hunchensocket's example, on
 * `fastify-datastar/websocket`.
 *
 * - Rooms: one resource, `app.resource('/:room', …)`, whose `resolve` step maps
 *   the path to a room. Only `/bongo` and `/fury` exist; an upgrade to any other
 *   path is answered 404 before the 101, as real HTTP.
 * - Join by connecting: `ws://…/bongo?name=alice`. The name is checked before
 *   the upgrade too (400 when it is missing or unusable) and kept in the
 *   client's `data`. Leave by closing.
 * - Messages: the client sends JSON text, `{ "type": "say", "text": "…" }`,
 *   validated by a TypeBox schema; anything else closes the connection with
 *   1008 (Policy Violation).
 * - The server broadcasts to everyone in the room, the sender included (so
 *   every member of a node sees the same order): `{ "type": "joined", "name" }`,
 *   `{ "type": "say", "name", "text" }` and `{ "type": "left", "name" }`.
 * - Who is in a room, on every node: `GET /presence/bongo` answers
 *   `{ "clients": 2, "nodes": { "answered": 2, "missing": 0 } }`.
 * - Two nodes, one Redis: `buildChatNodes()` gives each node the WebSocket
 *   plugin with a `RedisBackplane`. A room is then one room across the
 *   nodes: what a member says on node A reaches the members on node B.
 *   Messages from one node arrive everywhere in the order it sent them; two
 *   members on two nodes who speak at the same moment may be seen in either
 *   order (each node delivers its own members' messages at once).
 *
 * The page at `/chat` is plain HTML and JavaScript (`new WebSocket(…)`, no
 * external script). It renders every name and text with `textContent`: nothing
 * a member sends is ever parsed as HTML.
 *
 * Run it alone: `npm run build && node dist/examples/chat.js`, then open
 * http://127.0.0.1:3007/chat in two tabs. On two nodes, with a Redis at
 * REDIS_URL: `REDIS_URL=redis://127.0.0.1:6379 node dist/examples/chat.js`,
 * then open http://127.0.0.1:3007/chat and http://127.0.0.1:3009/chat.
 */
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import websocket, { type ResourceClient, type WebSocketPluginOptions } from 'fastify-datastar/websocket'
import { RedisBackplane, type RedisBackplaneOptions } from 'fastify-datastar/redis'
import { buildPair, isMain, serveAlone, serveTwoNodes } from './run-alone.js'

/** The rooms that exist; an upgrade to any other path is a 404. */
export const ROOMS = ['bongo', 'fury'] as const

/** What a member may send: something to say. */
export const ChatMessage = Type.Object({
  type: Type.Literal('say'),
  text: Type.String({ minLength: 1, maxLength: 500 })
})

/** The longest name a member may choose. */
export const MAX_NAME_LENGTH = 32

/** What the server broadcasts to a room. */
export type ChatEvent =
  | { type: 'joined', name: string }
  | { type: 'left', name: string }
  | { type: 'say', name: string, text: string }

/** The per-client state: the name chosen when joining. */
export interface Member {
  name: string
}

/** A member of a room. */
export type ChatClient = ResourceClient<Member, Static<typeof ChatMessage>>

/**
 * The query of the upgrade: a name of printable characters, not blank
 * (newlines, tabs and other control characters have no place in a name).
 */
export const JoinQuery = Type.Object({
  name: Type.String({ minLength: 1, maxLength: MAX_NAME_LENGTH, pattern: '^(?=.*\\S)[^\\p{Cc}]+$' })
})

/** The room in the path, or undefined when there is no such room. */
function roomOf (request: FastifyRequest): string | undefined {
  const { room } = request.params as { room: string }
  return (ROOMS as readonly string[]).includes(room) ? room : undefined
}

/** The page: pick a room and a name, join, say things, leave. Everything received is set as text. */
const page = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>fastify-datastar chat rooms</title>
  <link rel="icon" href="data:,">
  <style>
    body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem }
    form { display: flex; gap: .5rem; margin: .75rem 0 }
    #log { list-style: none; padding: .5rem; border: 1px solid #ccc; border-radius: .5rem; min-height: 8rem; max-height: 24rem; overflow-y: auto }
    #log li.notice { color: #666; font-style: italic }
    #log .name { font-weight: bold }
  </style>
</head>
<body>
  <h1>Chat rooms</h1>
  <form id="join">
    <select id="room" aria-label="Room">
      ${ROOMS.map((room) => `<option value="${room}">/${room}</option>`).join('\n      ')}
    </select>
    <input id="name" placeholder="Your name" maxlength="${MAX_NAME_LENGTH}" required aria-label="Your name">
    <button id="join-button">Join</button>
    <button id="leave" type="button" disabled>Leave</button>
  </form>
  <p id="status" role="status">Not in a room.</p>
  <form id="say">
    <input id="text" placeholder="Say something" maxlength="500" autocomplete="off" disabled aria-label="Message">
    <button id="say-button" disabled>Say</button>
  </form>
  <ul id="log" aria-live="polite"></ul>
  <script>
    const byId = (id) => document.getElementById(id)
    let socket = null

    function show (parts, notice) {
      const item = document.createElement('li')
      if (notice) item.className = 'notice'
      for (const [text, className] of parts) {
        const span = document.createElement('span')
        if (className) span.className = className
        span.textContent = text
        item.append(span)
      }
      byId('log').append(item)
      item.scrollIntoView({ block: 'nearest' })
    }

    function inRoom (joined) {
      for (const id of ['room', 'name', 'join-button']) byId(id).disabled = joined
      for (const id of ['leave', 'text', 'say-button']) byId(id).disabled = !joined
    }

    byId('join').addEventListener('submit', (event) => {
      event.preventDefault()
      if (socket !== null) return
      const room = byId('room').value
      const name = byId('name').value.trim()
      if (name === '') return
      // Relative to this page, so the example works under a prefix too.
      const url = new URL(room, location.href)
      url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
      url.search = new URLSearchParams({ name }).toString()
      const current = socket = new WebSocket(url)
      let opened = false
      inRoom(true)
      byId('leave').disabled = true
      byId('status').textContent = 'Joining /' + room + '…'
      current.addEventListener('open', () => {
        opened = true
        inRoom(true)
        byId('status').textContent = 'In /' + room + ' as ' + name + '.'
        byId('text').focus()
      })
      current.addEventListener('message', (event) => {
        let message
        try { message = JSON.parse(event.data) } catch { return }
        if (message.type === 'say') show([[message.name, 'name'], [': ' + message.text]])
        else if (message.type === 'joined') show([[message.name, 'name'], [' joined']], true)
        else if (message.type === 'left') show([[message.name, 'name'], [' left']], true)
      })
      current.addEventListener('close', (event) => {
        if (socket === current) socket = null
        inRoom(false)
        byId('status').textContent = opened
          ? 'Left /' + room + (event.code === 1000 ? '.' : ' (' + event.code + (event.reason ? ': ' + event.reason : '') + ').')
          : 'Could not join /' + room + '.'
      })
    })

    byId('leave').addEventListener('click', () => {
      if (socket !== null) socket.close(1000, 'left')
    })

    byId('say').addEventListener('submit', (event) => {
      event.preventDefault()
      const text = byId('text').value
      if (socket === null || socket.readyState !== WebSocket.OPEN || text.trim() === '') return
      socket.send(JSON.stringify({ type: 'say', text }))
      byId('text').value = ''
    })
  </script>
</body>
</html>
`

/** The chat example's routes: the page at `/chat` and the rooms. Register `fastify-datastar/websocket` first. */
export const chat: FastifyPluginAsync = async (fastify) => {
  fastify.get('/chat', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page))

  const rooms = fastify.resource('/:room', {
    // An unknown room is a 404 before the upgrade.
    resolve: roomOf,
    schema: ChatMessage,
    data: (request) => ({ name: (request.query as Static<typeof JoinQuery>).name.trim() }),
    // A missing or unusable name is a 400 before the upgrade (validation runs before resolve).
    route: { schema: { querystring: JoinQuery } },
    connected: async (client) => {
      // On several nodes: announced once this node hears the room's other nodes (at once on one node).
      // The member's own messages wait for this, so everything after "joined" reaches every node.
      await rooms.ready()
      client.resource.broadcast({ type: 'joined', name: client.data.name } satisfies ChatEvent)
    },
    message: (client, message) => {
      client.resource.broadcast({ type: 'say', name: client.data.name, text: message.text } satisfies ChatEvent)
    },
    disconnected: (client) => {
      // The client has left the room already: this reaches the others (on every node, even
      // when it was the last member here, since the route broadcasts by room name).
      rooms.broadcast(client.resource.name, { type: 'left', name: client.data.name } satisfies ChatEvent)
    }
  })

  // Who is in a room, counted on every node (within half a second: a node that does not answer is counted as missing).
  fastify.get('/presence/:room', async (request, reply) => {
    const room = roomOf(request)
    if (room === undefined) return reply.code(404).send({ error: 'no such room' })
    const { clients, nodes } = await rooms.presence(room, { timeout: 500 })
    return { clients, nodes: { answered: nodes.answered.length, missing: nodes.missing.length } }
  })
}

/** The chat app: the WebSocket plugin and the example's routes, with its page at `/chat`. */
export async function buildChatApp (options: FastifyServerOptions = {}, websocketOptions: WebSocketPluginOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(options)
  await app.register(websocket, websocketOptions)
  await app.register(chat)
  return app
}

/** Options of `buildChatNodes()`. */
export interface ChatNodesOptions {
  /** Where Redis is: a redis:// URL or ioredis options. Default redis://127.0.0.1:6379. */
  redis?: RedisBackplaneOptions['redis']
  /** Options of both Fastify instances. */
  server?: FastifyServerOptions
}

/**
 * Two chat nodes, A and B, whose rooms are shared through Redis; neither is
 * listening yet: give each its own port. Each has a backplane of its own,
 * which the WebSocket plugin closes with the app.
 * @example
 * const { a, b } = await buildChatNodes({ redis: 'redis://127.0.0.1:6379' })
 * await a.listen({ port: 3007 })
 * await b.listen({ port: 3009 })
 */
export async function buildChatNodes (options: ChatNodesOptions = {}): Promise<{ a: FastifyInstance, b: FastifyInstance }> {
  return await buildPair(() => buildChatApp(options.server, { backplane: new RedisBackplane({ redis: options.redis }) }))
}

if (isMain(import.meta.url)) {
  const redis = process.env.REDIS_URL
  if (redis === undefined) await serveAlone(() => buildChatApp({ logger: true }), 3007, 'Chat example', '/chat')
  else await serveTwoNodes(await buildChatNodes({ redis, server: { logger: true } }), [3007, 3009], 'Chat example on two nodes', '/chat')
}
