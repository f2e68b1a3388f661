/**
 * The chaos suite's cast: nodes (Fastify apps whose `feed` registry shares a
 * real Redis through a RedisBackplane of their own), a ledger of what the
 * publishers were told, and clients (SSE streams, long-poll requests) that
 * hop between nodes with Last-Event-ID or the cursor over real HTTP on
 * loopback, counting what they get wrong.
 * Every loop is bounded in count and in time.
 */
import http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import type { RedisOptions } from 'ioredis'
import type { Test } from 'tap'
import datastar, { type DatastarStream } from '../../plugins/index.js'
import { RedisBackplane } from '../../src/registry/redis.js'
import type { Registry } from '../../src/registry/registry.js'
import { SSEParser, type ParsedEvent } from '../../src/sse/parser.js'
import { listen, waitFor } from '../helpers.js'
import { compareIds } from '../registry/redis-server.js'

export interface ChaosNode {
  name: string
  base: string
  feed: Registry<DatastarStream>
}

export interface NodeOptions {
  /** The registry's replay ring. */
  replay: number
  coalesce?: number | false
  /** The application's state, as a full state holds it: how many publishes it has made. */
  state: () => number
}

/**
 * A node on Redis at `port` (directly, or through a proxy): GET /feed follows
 * the `feed` registry, GET /poll long-polls it (answered within 100 ms). A
 * subscriber it resyncs gets the full state's stand-in, `{ resync: <cursor>,
 * state: <publishes made> }`, stamped with the registry's lastEventId (the
 * start, 0-0, when it has none: it starts over). A command waits for Redis
 * through two quick reconnections, then rejects (the publisher counts it).
 */
export async function startNode (t: Test, name: string, port: number, options: NodeOptions): Promise<ChaosNode> {
  const redis: RedisOptions = { host: '127.0.0.1', port, maxRetriesPerRequest: 2, retryStrategy: () => 50 }
  // Streams the clients leave open must not hold app.close().
  const app: FastifyInstance = Fastify({ forceCloseConnections: true })
  await app.register(datastar, { compression: false, registry: { backplane: new RedisBackplane({ redis, blockMs: 1000 }) } })
  t.teardown(() => app.close())
  const feed: Registry<DatastarStream> = app.registry<DatastarStream>('feed', {
    replay: options.replay,
    coalesce: options.coalesce ?? false,
    onResync: (stream) => { stream.patchSignals({ resync: feed.lastEventId ?? '0-0', state: options.state() }) }
  })
  app.get('/feed', async (_request, reply) => { feed.add(reply.datastar({ keepAlive: false })) })
  app.get('/poll', (_request, reply) => reply.longPoll('feed', { timeout: 100 }))
  const base = await listen(app)
  await feed.ready()
  return { name, base, feed }
}

// Each publisher's publishes once the faults are over, and at the most.
const TAIL = 30
const MAX_PUBLISHES = 1000

/** What the publishers were told: the accepted publishes and the rejected ones, by number. */
export class Ledger {
  readonly accepted = new Set<number>()
  readonly rejected = new Set<number>()
  // The application's state: a publish is in it once made (as an app stores a change, then broadcasts it).
  made = 0

  /** Publishes `{ s: n }` on `node`; a rejection must be the backplane's coded error. */
  async publish (node: ChaosNode): Promise<void> {
    const n = ++this.made
    try {
      await node.feed.patchSignals({ s: n })
      this.accepted.add(n)
    } catch (error) {
      if ((error as { code?: string }).code !== 'FST_ERR_REGISTRY_BACKPLANE') throw error
      this.rejected.add(n)
    }
  }

  /**
   * Publishes round robin over `nodes`, 5 ms apart, one at a time, while
   * `busy()` and `TAIL` times more, `MAX_PUBLISHES` at the most.
   */
  async run (nodes: ChaosNode[], busy: () => boolean): Promise<void> {
    let tail = TAIL
    for (let i = 0; i < MAX_PUBLISHES && (busy() || tail-- > 0); i++) {
      await this.publish(nodes[i % nodes.length] as ChaosNode)
      await sleep(5)
    }
  }
}

/** One connection of a client: events as they arrive, then the end. */
function follow (url: string, lastEventId: string | undefined, onEvent: (event: ParsedEvent) => void): { close: () => Promise<void> } {
  const headers: Record<string, string> = lastEventId === undefined ? {} : { 'last-event-id': lastEventId }
  const request = http.request(url, { headers, agent: false })
  const closed = new Promise<void>((resolve) => { request.on('close', resolve) })
  request.on('error', () => {})
  request.on('response', (response) => {
    const parser = new SSEParser()
    response.setEncoding('utf8')
    response.on('error', () => {})
    response.on('data', (chunk: string) => { for (const event of parser.push(chunk)) onEvent(event) })
  })
  request.end()
  return {
    close: async () => {
      request.destroy()
      await closed
    }
  }
}

/** How a client follows a registry: one SSE stream at a time, or long-poll requests. */
export type Transport = 'sse' | 'poll'

/**
 * A client that hops between nodes, resuming with the last id it has (SSE:
 * Last-Event-ID; long-poll: the cursor each answer gives, as docs/long-poll.md's
 * client does). It counts, by the publish number each event carries:
 * duplicates (a number again), out-of-order events (an id at or below one it
 * has), resyncs (after which it starts over from the cursor of a full state).
 */
export class HoppingClient {
  readonly name: string
  readonly transport: Transport
  hops = 0
  resyncs = 0
  duplicates = 0
  outOfOrder = 0
  // The application's state, which a long-poll client fetches after a 205.
  readonly #state: () => number
  // The newest id it has, or the cursor of its last full state: an SSE client resumes from it.
  #newest: string | undefined
  // The cursor the last long-poll answer gave, which a long-poll client sends next.
  #cursor = ''
  // How many publishes the newest full state it got holds.
  #covered = 0
  readonly #received = new Map<number, string>()
  #stream: { close: () => Promise<void> } | undefined

  constructor (name: string, transport: Transport, state: () => number) {
    this.name = name
    this.transport = transport
    this.#state = state
  }

  #resync (cursor: string, state: number): void {
    this.resyncs++
    this.#newest = cursor
    this.#covered = Math.max(this.#covered, state)
    // What came after the full state's cursor comes again, and rightly so.
    for (const [n, id] of this.#received) if (compareIds(id, cursor) > 0) this.#received.delete(n)
  }

  readonly #onEvent = (event: ParsedEvent): void => {
    const signals = JSON.parse(event.data.replace(/^signals /, '')) as { s?: number, resync?: string, state?: number }
    if (signals.resync !== undefined) {
      this.#resync(signals.resync, signals.state as number)
      return
    }
    const n = signals.s as number
    if (this.#newest !== undefined && compareIds(event.id, this.#newest) <= 0) {
      if (this.#received.has(n)) this.duplicates++
      else this.outOfOrder++
      return
    }
    if (this.#received.has(n)) this.duplicates++
    this.#received.set(n, event.id)
    this.#newest = event.id
  }

  /** Goes to `node`: opens a stream there (SSE), or makes one long-poll request, answered within 100 ms. */
  async visit (node: ChaosNode): Promise<void> {
    this.hops++
    if (this.transport === 'sse') {
      this.#stream = follow(node.base + '/feed', this.#newest, this.#onEvent)
      return
    }
    const response = await fetch(`${node.base}/poll?cursor=${encodeURIComponent(this.#cursor)}`)
    this.#cursor = response.headers.get('x-registry-cursor') as string
    const body = await response.text()
    if (response.status === 205) this.#resync(this.#cursor, this.#state())
    for (const event of new SSEParser().push(body)) this.#onEvent(event)
  }

  /** Ends the stream, if one is open. */
  async leave (): Promise<void> {
    await this.#stream?.close()
    this.#stream = undefined
  }

  /**
   * After its first visit, hops until `done()` or `maxHops`: a short stay, a
   * short absence (events missed meanwhile), a random node.
   */
  async run (nodes: ChaosNode[], done: () => boolean, maxHops: number): Promise<void> {
    for (;;) {
      if (this.transport === 'sse') await sleep(20 + Math.random() * 100)
      await this.leave()
      if (this.hops >= maxHops || done()) return
      await sleep(Math.random() * 30)
      await this.visit(nodes[Math.floor(Math.random() * nodes.length)] as ChaosNode)
    }
  }

  /** Stays with `node` until the client lacks no accepted publish, or `limitMs` (what it lacks then is lost). */
  async catchUp (node: ChaosNode, ledger: Ledger, limitMs: number): Promise<void> {
    const start = Date.now()
    const caughtUp = (): boolean => this.lost(ledger).length === 0 || Date.now() - start > limitMs
    if (this.transport === 'sse') {
      await this.visit(node)
      await waitFor(caughtUp, `${this.name} to catch up`, limitMs * 2)
      await this.leave()
      return
    }
    while (!caughtUp()) await this.visit(node)
  }

  /** The accepted publishes it neither received nor got in a full state. */
  lost (ledger: Ledger): number[] {
    return [...ledger.accepted].filter((n) => !this.#received.has(n) && n > this.#covered)
  }

  /** The rejected publishes it received all the same (Redis applied them before the answer was lost). */
  receivedRejected (ledger: Ledger): number {
    return [...ledger.rejected].filter((n) => this.#received.has(n)).length
  }
}

/** The publishers' ledger, the nodes, the clients. */
export interface Cast {
  ledger: Ledger
  nodes: ChaosNode[]
  clients: HoppingClient[]
}

/**
 * Connects every client, then runs two publishers, the clients' hops and
 * `faults` together, until a little after the faults; then every client
 * catches up on a node.
 */
export async function play (t: Test, cast: Cast, faults: () => Promise<void>): Promise<void> {
  const { ledger, nodes, clients } = cast
  await Promise.all(clients.map((client, i) => client.visit(nodes[i % nodes.length] as ChaosNode)))
  const streams = clients.filter((client) => client.transport === 'sse').length
  await waitFor(() => nodes.reduce((sum, node) => sum + node.feed.size, 0) === streams, 'every stream joined')
  let faulting = true
  let publishing = true
  const injected = faults().finally(() => { faulting = false })
  const busy = (): boolean => faulting
  const publishers = Promise.all([ledger.run(nodes, busy), ledger.run([...nodes].reverse(), busy)]).finally(() => { publishing = false })
  await Promise.all([publishers, injected, ...clients.map((client) => client.run(nodes, () => !publishing, 400))])
  await Promise.all(clients.map((client, i) => client.catchUp(nodes[i % nodes.length] as ChaosNode, ledger, 10_000)))
  report(t, ledger, clients)
}

/** Says what was measured, and checks the guarantees: nothing lost, duplicated or out of order, for any client. */
function report (t: Test, ledger: Ledger, clients: HoppingClient[]): void {
  const total = ledger.accepted.size + ledger.rejected.size
  t.comment(`publishes: ${total}, accepted ${ledger.accepted.size}, rejected ${ledger.rejected.size}`)
  for (const client of clients) {
    const lost = client.lost(ledger)
    t.comment(`${client.name}: ${client.hops} connections, ${client.resyncs} resyncs, lost ${lost.length}, duplicated ${client.duplicates}, out of order ${client.outOfOrder}, rejected yet received ${client.receivedRejected(ledger)}`)
    t.same(lost, [], `${client.name}: no accepted publish lost`)
    t.equal(client.duplicates, 0, `${client.name}: nothing twice`)
    t.equal(client.outOfOrder, 0, `${client.name}: never an id at or below one it had`)
  }
  t.ok(ledger.accepted.size > 0, 'publishes went through')
}
