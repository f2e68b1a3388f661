/**
 * WebSocket rooms across nodes: Fastify nodes whose WebSocket plugin shares
 * one backplane, with real ws clients on loopback. First two nodes on one
 * MemoryBackplane in this process (broadcasts, except, filter, binary,
 * presence, what is released, malformed messages); then two and three nodes
 * on a real redis-server started by the test, one backplane object shared
 * with the registry plugin, and a node killed mid-broadcast (cut off through
 * a TCP proxy, its clients dropped, as a dead machine is).
 *
 * "Received nothing else" is proved by order, not by waiting: a connection
 * delivers in order, so a marker sent after a message that must not arrive
 * is the next thing a client gets.
 */
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import datastar from '../../plugins/index.js'
import websocket, { type ResourceClient, type ResourceRoute as PluginRoute } from '../../plugins/websocket.js'
import { MemoryBackplane, type Backplane } from '../../src/registry/backplane.js'
import { RedisBackplane } from '../../src/registry/redis.js'
import { resolveResourceOptions } from '../../src/websocket/options.js'
import { ResourceRoute } from '../../src/websocket/resource-route.js'
import { listen, logCapture, waitFor, within } from '../helpers.js'
import { noConnectionsLeft, redisSkip, startRedis, timers } from '../registry/redis-server.js'
import { startProxy } from '../registry/tcp-proxy.js'
import { connect, wsUrl, type TestClient } from './helpers.js'

const LIMIT = 5000

interface Node {
  app: FastifyInstance
  route: PluginRoute
  base: string
  /** The server side of every client that joined this node. */
  joined: ResourceClient[]
  logs: Array<Record<string, unknown>>
  /** Opens a client of room `name` on this node; terminated at teardown. */
  join: (name: string) => Promise<TestClient>
}

/** A node: the WebSocket plugin on `backplane`, rooms at /room/:name whose clients' messages are broadcast to their room. */
async function startNode (t: Test, backplane: Backplane | undefined, register?: (app: FastifyInstance) => Promise<void>): Promise<Node> {
  const logs = logCapture()
  const app = Fastify({ logger: { level: 'warn', stream: logs.stream } })
  await register?.(app)
  await app.register(websocket, { backplane, heartbeat: false })
  const joined: ResourceClient[] = []
  const route = app.resource('/room/:name', {
    resolve: (request) => (request.params as { name: string }).name,
    connected: (client) => { joined.push(client) },
    message: (client, text) => { client.resource.broadcast(text) }
  })
  const sockets: TestClient[] = []
  t.teardown(async () => {
    for (const socket of sockets) socket.socket.terminate()
    await app.close()
  })
  const base = await listen(app)
  return {
    app,
    route,
    base,
    joined,
    logs: logs.lines,
    join: async (name) => {
      const before = joined.length
      const client = await within(connect(wsUrl(base, `/room/${name}`)), LIMIT, `joining ${name}`)
      sockets.push(client)
      await waitFor(() => joined.length > before, 'the client to join', LIMIT)
      return client
    }
  }
}

/** Waits until every node's cluster lists `count` nodes, and every route listens to the others' broadcasts. */
async function meshed (nodes: Node[], count = nodes.length): Promise<void> {
  await Promise.all(nodes.map((node) => node.route.cluster!.ready()))
  await waitFor(() => nodes.every((node) => node.route.cluster!.nodes.length === count), `every node to list ${count} nodes`, 10_000)
  await Promise.all(nodes.map((node) => node.route.ready()))
}

/** The `index`-th message of a client, within the bound. */
function nth (client: TestClient, index: number, what: string): Promise<string | Buffer> {
  return within(client.message(index), LIMIT, what)
}

/** Nodes A and B on one MemoryBackplane. */
async function twoNodes (t: Test): Promise<{ backplane: MemoryBackplane, a: Node, b: Node }> {
  const backplane = new MemoryBackplane()
  return { backplane, a: await startNode(t, backplane), b: await startNode(t, backplane) }
}

/** Room bongo split over A and B: a1 and a2 on A, b1 on B, the nodes meshed. */
async function splitRoom (t: Test): Promise<{ a: Node, b: Node, a1: TestClient, a2: TestClient, b1: TestClient }> {
  const { a, b } = await twoNodes(t)
  const a1 = await a.join('bongo')
  const a2 = await a.join('bongo')
  const b1 = await b.join('bongo')
  await meshed([a, b])
  return { a, b, a1, a2, b1 }
}

t.test('on one MemoryBackplane', async (t) => {
  t.test('a room split over two nodes: a broadcast from either reaches every client, encoded once per node; broadcast() counts this node\'s', async (t) => {
    const { a, b, a1, a2, b1 } = await splitRoom(t)
    const elsewhere = await b.join('fury')

    t.equal(a.route.get('bongo')!.broadcast('hello'), 2, 'handed to the two clients of this node')
    for (const [name, client] of [['a1', a1], ['a2', a2], ['b1', b1]] as const) t.equal(await nth(client, 0, name), 'hello', `${name} got it`)

    b1.socket.send('from b')
    for (const [name, client] of [['a1', a1], ['a2', a2], ['b1', b1]] as const) t.equal(await nth(client, 1, name), 'from b', `${name} got B's client's message`)

    const bytes = Buffer.from([0, 1, 2, 254, 255])
    a.route.get('bongo')!.broadcast(bytes)
    const binary = await nth(b1, 2, 'the binary message on B')
    t.ok(Buffer.isBuffer(binary) && binary.equals(bytes), 'binary, byte for byte')

    t.equal(b.route.get('bongo')!.stats().events, 3, 'B\'s room counts the relayed broadcasts it delivered')
    t.equal(elsewhere.messages.length, 0, 'another room hears nothing')
  })

  t.test('except names clients of the broadcasting node; a filter keeps the broadcast on it', async (t) => {
    const { a, a1, a2, b1 } = await splitRoom(t)
    const room = a.route.get('bongo')!
    const [sender] = a.joined

    t.equal(room.broadcast('not to the sender', { except: sender }), 1)
    t.equal(await nth(a2, 0, 'a2'), 'not to the sender')
    t.equal(await nth(b1, 0, 'b1'), 'not to the sender', 'other nodes deliver to all theirs')
    t.equal(room.broadcast('filtered', { filter: (client) => client === sender }), 1)
    t.equal(await nth(a1, 0, 'a1'), 'filtered')
    room.broadcast('marker')
    t.equal(await nth(b1, 1, 'b1\'s next message'), 'marker', 'the filtered broadcast did not cross')
    t.equal(await nth(a2, 1, 'a2\'s next message'), 'marker', 'nor reach a local client the filter refused')
  })

  t.test('route.broadcast(name) reaches the room on the other nodes from a node where it has no client', async (t) => {
    const { a, b } = await twoNodes(t)
    const b1 = await b.join('bongo')
    await meshed([a, b])
    t.equal(a.route.get('bongo'), undefined, 'no room on A')
    t.equal(a.route.broadcast('bongo', { type: 'notice' }), 0, 'no client of A')
    t.equal(await nth(b1, 0, 'b1'), '{"type":"notice"}')
    t.equal(a.route.broadcast('bongo', 'filtered', { filter: () => true }), 0)
    t.equal(b.route.broadcast('bongo', 'local'), 1, 'on a node with the room, its clients are counted')
    t.equal(await nth(b1, 1, 'b1\'s next'), 'local', 'the filtered one went nowhere')
  })

  t.test('presence: every client of the room on every node, by id, and which nodes answered', async (t) => {
    const { a, b } = await twoNodes(t)
    await a.join('bongo')
    await b.join('bongo')
    await b.join('bongo')
    await b.join('fury')
    await meshed([a, b])
    const bongo = [...a.joined.slice(0, 1), ...b.joined.slice(0, 2)].map((client) => client.id)
    for (const node of [a, b]) {
      const presence = await node.route.presence('bongo')
      t.equal(presence.clients, 3)
      t.same([...presence.ids].sort(), [...bongo].sort(), 'the clients\' ids')
      t.same([...presence.nodes.answered].sort(), [a.route.cluster!.id, b.route.cluster!.id].sort())
      t.same(presence.nodes.missing, [])
    }
    t.same((await a.route.presence('nowhere')).clients, 0)
    t.equal(a.joined[0]!.id, a.joined[0]!.id, 'an id stays the same')
    t.match(a.joined[0]!.id, /^[0-9a-f-]{36}$/)

    const alone = await startNode(t, undefined)
    await alone.join('bongo')
    t.same(await alone.route.presence('bongo'), { clients: 1, ids: [alone.joined[0]!.id], nodes: { answered: ['local'], missing: [] } }, 'without a backplane: this node')
    t.equal(alone.route.cluster, undefined)
  })

  t.test('a route listens while it has a room on the node; app.close() releases every listener and timer', async (t) => {
    const backplane = new MemoryBackplane()
    const before = timers()
    const a = await startNode(t, backplane)
    const b = await startNode(t, backplane)
    await meshed([a, b])
    const clusterListeners = backplane.ephemeralListeners
    t.equal(clusterListeners, 4, 'two cluster channels per node, no room channel yet')
    const b1 = await b.join('bongo')
    const b2 = await b.join('fury')
    await b.route.ready()
    t.equal(backplane.ephemeralListeners, clusterListeners + 1, 'one subscription for the route, however many rooms')
    b1.socket.close()
    await waitFor(() => b.route.get('bongo') === undefined, 'bongo dropped', LIMIT)
    t.equal(backplane.ephemeralListeners, clusterListeners + 1, 'still listening while fury has a client')
    b2.socket.close()
    await waitFor(() => backplane.ephemeralListeners === clusterListeners, 'the route\'s subscription let go with its last room', LIMIT)
    const again = await b.join('bongo')
    await b.route.ready()
    a.route.broadcast('bongo', 'back')
    t.equal(await nth(again, 0, 'a client of a room made again'), 'back', 'listening again')
    await a.app.close()
    await b.app.close()
    t.equal(backplane.ephemeralListeners, 0, 'no listener left')
    t.ok(timers() <= before, 'no heartbeat timer left')
  })

  t.test('a malformed room message is dropped and logged; the room goes on', async (t) => {
    const { backplane, a, b } = await twoNodes(t)
    const b1 = await b.join('bongo')
    await meshed([a, b])
    const stamped = (body: Buffer): Buffer => Buffer.concat([Buffer.from([1]), Buffer.from('x'), body])
    for (const body of [Buffer.alloc(0), Buffer.from([0, 0]), Buffer.from([4, 0, 0]), Buffer.from([0, 0, 9, 65])]) {
      await backplane.publishEphemeral('ws:/room/:name', stamped(body))
    }
    const malformed = b.logs.filter((line) => (line.err as { code?: string } | undefined)?.code === 'FST_ERR_CLUSTER_MALFORMED_MESSAGE')
    t.equal(malformed.length, 4, 'each one logged')
    t.equal(malformed[0]!.level, 40, 'at warn')
    a.route.broadcast('bongo', 'fine')
    t.equal(await nth(b1, 0, 'the next message'), 'fine', 'nothing delivered before it')
  })

  t.test('what cannot cross nodes is logged, never thrown at the broadcaster; a bad presence question or answer names the node', async (t) => {
    const backplane = new MemoryBackplane()
    // The shared backplane, except that A's room messages never get through.
    const refusing: Backplane = {
      publish: (channel, message) => backplane.publish(channel, message),
      subscribe: (channel, listener) => backplane.subscribe(channel, listener),
      compare: (x, y) => backplane.compare(x, y),
      close: async () => {},
      subscribeEphemeral: (channel, listener) => backplane.subscribeEphemeral(channel, listener),
      publishEphemeral: async (channel, payload) => {
        if (channel.startsWith('ws:')) throw new Error('backplane down')
        await backplane.publishEphemeral(channel, payload)
      }
    }
    const a = await startNode(t, refusing)
    const b = await startNode(t, backplane)
    const a1 = await a.join('bongo')
    await meshed([a, b])
    t.equal(a.route.broadcast('bongo', 'local only'), 1, 'delivered here')
    t.equal(a.route.broadcast('x'.repeat(70_000), 'too long a name'), 0)
    t.equal(await nth(a1, 0, 'a1'), 'local only')
    await waitFor(() => a.logs.filter((line) => line.msg === 'websocket rooms across nodes').length === 2, 'both logged', LIMIT)
    t.match(a.logs.filter((line) => line.msg === 'websocket rooms across nodes').map((line) => (line.err as { message: string }).message).sort(), ['backplane down', /too long to cross nodes/])

    // Another program on the cluster: asked about a room by a number, and answering with something that is not a list of ids.
    const odd = await b.route.cluster!.request('ws:presence:/room/:name', 7, { nodes: [a.route.cluster!.id] })
    t.match([...odd.failed.values()], [/room name is a string/])
    const stop = a.route.cluster!.handle('ws:presence:/other', () => 'not a list')
    // A route of the core on B's cluster, which A answers about in its own way.
    const other = new ResourceRoute('/other', { options: resolveResourceOptions(), onError: () => {} }, { cluster: b.route.cluster })
    t.teardown(() => other.close())
    const presence = await other.presence('bongo')
    t.same(presence.nodes.missing, [a.route.cluster!.id], 'a node whose answer is not a list of ids is missing')
    t.same(presence.nodes.answered, [b.route.cluster!.id])
    stop()
  })

  t.test('a backplane without ephemeral messages is refused at register', async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    const bare = { publish: async () => '1-1', subscribe: async () => async () => {}, compare: () => 0, close: async () => {} }
    await t.rejects(async () => { await app.register(websocket, { backplane: bare }) }, { code: 'FST_ERR_WS_INVALID_OPTION', message: /backplane/ })
  })
})

t.test('on a real redis-server', { skip: await redisSkip() }, async (t) => {
  t.test('three nodes, one backplane object each shared with the registry plugin: a room split over them broadcasts from any node to all, and presence counts all', async (t) => {
    const redis = await startRedis(t)
    const nodes: Node[] = []
    const closes = [0, 0, 0]
    for (let index = 0; index < 3; index++) {
      const backplane = new RedisBackplane({ redis: redis.url })
      const close = backplane.close.bind(backplane)
      backplane.close = async () => { closes[index]!++; await close() }
      // The same object for registries and rooms: one set of connections.
      nodes.push(await startNode(t, backplane, async (app) => { await app.register(datastar, { registry: { backplane } }) }))
    }
    const clients: TestClient[] = []
    for (const node of nodes) clients.push(await node.join('bongo'), await node.join('bongo'))
    await meshed(nodes)

    for (const [index, node] of nodes.entries()) {
      t.equal(node.route.get('bongo')!.broadcast(`from node ${index}`), 2)
      for (const [each, client] of clients.entries()) t.equal(await nth(client, index, `client ${each}, message ${index}`), `from node ${index}`)
    }
    const ids = nodes.flatMap((node) => node.joined.map((client) => client.id)).sort()
    for (const node of nodes) {
      const presence = await node.route.presence('bongo', { timeout: 2000 })
      t.equal(presence.clients, 6)
      t.same([...presence.ids].sort(), ids)
      t.equal(presence.nodes.answered.length, 3)
    }
    // The registries share the same connections.
    await nodes[0]!.app.registry('feed').ready()
    for (const node of nodes) await node.app.close()
    t.same(closes, [1, 1, 1], 'each backplane closed once, though two plugins were given it')
    await noConnectionsLeft(redis)
  })

  t.test('a node killed mid-broadcast does not stop the others; presence answers within its bound and names it', async (t) => {
    const redis = await startRedis(t)
    const proxy = await startProxy(t, redis.port)
    const nodes: Node[] = []
    for (const port of [redis.port, redis.port, proxy.port]) {
      const backplane = new RedisBackplane({ redis: { host: '127.0.0.1', port, maxRetriesPerRequest: 1, retryStrategy: () => 50 } })
      nodes.push(await startNode(t, backplane))
    }
    const [a, b, c] = nodes as [Node, Node, Node]
    const atA = await a.join('bongo')
    const atB = await b.join('bongo')
    const atC = await c.join('bongo')
    await meshed(nodes)

    // A and C broadcast in turns; half way, C dies: its Redis connections cut and refused, its clients dropped.
    const COUNT = 40
    for (let n = 0; n < COUNT; n++) {
      a.route.get('bongo')!.broadcast(`a${n}`)
      if (n === COUNT / 2) {
        proxy.down()
        for (const client of c.joined) client.terminate()
      }
      c.route.broadcast('bongo', `c${n}`)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    await waitFor(() => atB.messages.filter((message) => String(message).startsWith('a')).length === COUNT, 'every message of A at B', 10_000)
    const fromA = (client: TestClient): string[] => client.messages.map(String).filter((message) => message.startsWith('a'))
    const expected = [...Array(COUNT).keys()].map((n) => `a${n}`)
    t.same(fromA(atB), expected, 'B got all of A\'s, in order')
    t.same(fromA(atA), expected, 'A\'s own clients too')
    const fromC = atB.messages.map(String).filter((message) => message.startsWith('c'))
    t.ok(fromC.length >= 1 && fromC.length <= COUNT, `B got C's broadcasts until it died (${fromC.length})`)
    t.equal((await within(atC.closed, LIMIT, 'C\'s client dropped')).code, 1006)

    const presence = await within(a.route.presence('bongo', { timeout: 300 }), LIMIT, 'presence with C gone')
    t.equal(presence.clients, 2, 'A\'s and B\'s clients')
    t.same([...presence.nodes.answered].sort(), [a.route.cluster!.id, b.route.cluster!.id].sort())
    t.same(presence.nodes.missing, [c.route.cluster!.id], 'C named as missing')
    a.route.broadcast('bongo', 'after')
    t.equal(await nth(atB, fromA(atB).length + fromC.length, 'B after C died'), 'after', 'A and B go on')
  })
})
