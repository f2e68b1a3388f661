/**
 * RPC across the nodes of a cluster: each session's record (its node, its
 * principal, its token's hash, its data) in the backplane's shared store, so
 * a page that reconnects to another node resumes its session there; calls to
 * a session on another node, routed to it; calls to every node's sessions.
 * The nodes talk through a `ClusterNode` on their shared backplane.
 */
import type { ClusterNode } from '../cluster/node.js'
import type { SharedStore } from '../cluster/store.js'
import { MAX_TIMEOUT_MS, RpcError } from './browser/peer.js'
import { RpcErrorCode } from './browser/protocol.js'
import { secretMatches } from './session.js'
import type { FramesPost, PostOutcome } from './sse.js'

/** What the store keeps of a session, as JSON. */
export interface SessionRecord {
  /** The node the session lives on. */
  node: string
  principal?: string
  /** The hex SHA-256 of its resume token. */
  token: string
  data: unknown
}

/** One session's outcome of a call to many, as it travels between nodes. */
export interface WireEntry {
  id: string
  status: 'ok' | 'error' | 'timeout' | 'disconnected' | 'invalid'
  value?: unknown
  error?: { code: string, message: string }
}

/** A call to many, as it travels: the function's name, its arguments as JSON, the deadline, the sessions (default all). */
export interface ManyRequest {
  fn: string
  args: string
  timeout: number
  sessions?: string[]
  /** The caller's number for it, when the caller yields entries as they come (callEach): they are sent ahead, tagged with it. */
  call?: number
}

/** What the nodes layer needs of its node's RPC server. */
export interface LocalNode {
  /** Calls one local session; resolves with the value, or rejects with an RpcError (NOT_FOUND: no such session here). */
  call: (id: string, fn: string, args: string, timeout: number) => Promise<unknown>
  /** Calls the local sessions named (or all): one entry each, `each` hearing them as they settle. */
  callMany: (request: ManyRequest, each: (entry: WireEntry) => void) => Promise<WireEntry[]>
  /** Ends the local session `id` without its onExpire (it lives on elsewhere); resolves with its data, or undefined. */
  release: (id: string) => unknown
  /** A POST of frames of the SSE transport, for a connection of this node. */
  postFrames: (post: FramesPost) => PostOutcome
}

/** How long a node's records outlive its last refresh: the session's TTL plus this margin, in ms. */
const RECORD_MARGIN = 5_000
// How long a claim waits for the node that had the session to let it go, in ms.
const RELEASE_TIMEOUT = 1_000
// How long a POST of frames forwarded to another node waits for it, in ms.
const FORWARD_TIMEOUT = 5_000
// Time for a node to answer beyond a call's own deadline, in ms.
const ANSWER_MARGIN = 1_000

/**
 * The RPC layer of one node in a cluster.
 * @example const nodes = new RpcNodes(cluster, backplane.store, 120_000, local)
 */
export class RpcNodes {
  readonly cluster: ClusterNode
  readonly #store: SharedStore
  readonly #recordTtl: number
  readonly #local: LocalNode
  readonly #stops: Array<() => void>
  // Calls to many in progress that yield entries as they come (callEach), by number: where another node's entries go.
  readonly #streams = new Map<number, (node: string, entries: WireEntry[]) => void>()
  #calls = 0
  // Listening to the entries other nodes send this one (ready within a round trip to the backplane).
  readonly #entries: Promise<(() => Promise<void>) | undefined>

  constructor (cluster: ClusterNode, store: SharedStore, sessionTtl: number, local: LocalNode) {
    this.cluster = cluster
    this.#store = store
    this.#recordTtl = sessionTtl + RECORD_MARGIN
    this.#local = local
    this.#stops = [
      cluster.handle('rpc:call', async (body) => {
        const { id, fn, args, timeout } = body as { id: string, fn: string, args: string, timeout: number }
        try {
          return { v: await local.call(id, fn, args, timeout) }
        } catch (error) {
          return { e: wireError(error) }
        }
      }),
      cluster.handle('rpc:many', (body, from) => {
        const request = body as ManyRequest
        const call = request.call
        if (call === undefined) return local.callMany(request, () => {})
        // The entries that settle in one turn go to the caller as one message, unless the answer (all of them,
        // so that none is lost) left in that turn too. null: answered.
        let ahead: WireEntry[] | null = []
        const answered = local.callMany(request, (entry) => {
          if (ahead === null || ahead.push(entry) > 1) return
          setImmediate(() => {
            if (ahead === null) return
            const entries = ahead
            ahead = []
            cluster.publish(`rpc:entries:${from}`, Buffer.from(JSON.stringify({ call, entries }))).catch(() => {})
          })
        })
        return answered.finally(() => { ahead = null })
      }),
      cluster.handle('rpc:release', (body) => ({ data: local.release(String(body)) })),
      cluster.handle('rpc:frames', (body) => local.postFrames(body as FramesPost))
    ]
    this.#entries = cluster.subscribe(`rpc:entries:${cluster.id}`, (payload, from) => {
      let message: { call?: unknown, entries?: unknown }
      try {
        message = JSON.parse(payload.toString())
      } catch {
        return
      }
      const entries = Array.isArray(message.entries) ? (message.entries as WireEntry[]).filter((entry) => typeof entry?.id === 'string') : []
      if (typeof message.call === 'number' && entries.length > 0) this.#streams.get(message.call)?.(from, entries)
    }).catch(() => undefined)
  }

  /** This node's id. */
  get id (): string {
    return this.cluster.id
  }

  /**
   * Writes a session's record: when it opened or resumed here (`opened`), and
   * when its socket closes or this node shuts down, unless the session moved
   * to another node meanwhile (that node's record stands).
   */
  async save (id: string, record: Omit<SessionRecord, 'node'>, opened: boolean): Promise<void> {
    if (!opened) {
      const kept = await this.#read(id)
      if (kept !== undefined && kept.node !== this.id) return
    }
    await this.#store.set(`rpc:session:${id}`, JSON.stringify({ ...record, node: this.id }), this.#recordTtl)
    await this.#store.add(`rpc:node:${this.id}`, id, this.#recordTtl)
  }

  /** Removes a session's record: it ended here. A record another node wrote since (the session moved there) is its own. */
  async forget (id: string): Promise<void> {
    if ((await this.#read(id))?.node === this.id) await this.#store.delete(`rpc:session:${id}`)
    await this.#store.remove(`rpc:node:${this.id}`, id)
  }

  /** Keeps the records of this node's sessions alive (called every few seconds). */
  async refresh (ids: readonly string[]): Promise<void> {
    await this.#store.expire([...ids.map((id) => `rpc:session:${id}`), `rpc:node:${this.id}`], this.#recordTtl)
  }

  /**
   * A page resumes here a session it had on another node: its record, when
   * the token and the principal match; the node that had it lets it go and
   * hands over its latest data. Undefined: no such session (the page starts a new one).
   */
  async claim (id: string, token: string, principal: string | undefined): Promise<SessionRecord | undefined> {
    const record = await this.#read(id)
    if (record === undefined) return undefined
    if (!secretMatches(Buffer.from(record.token, 'hex'), token) || record.principal !== principal) return undefined
    if (record.node !== this.id) {
      // Asked even when not listed (just started, or a pause): a node that still holds it must let it go.
      const listed = this.cluster.nodes.includes(record.node)
      const { answers } = await this.cluster.request<{ data?: unknown }>('rpc:release', id, { nodes: [record.node], timeout: listed ? RELEASE_TIMEOUT : RELEASE_TIMEOUT / 4 })
      const released = answers.get(record.node)
      if (released?.data !== undefined) record.data = released.data
    }
    await this.#store.remove(`rpc:node:${record.node}`, id)
    return record
  }

  /** The node a session lives on, from its record; undefined when it has none. */
  async locate (id: string): Promise<string | undefined> {
    return (await this.#read(id))?.node
  }

  // A session's record; undefined when there is none, or it is not one (never written by this package).
  async #read (id: string): Promise<SessionRecord | undefined> {
    const text = await this.#store.get(`rpc:session:${id}`)
    if (text === undefined) return undefined
    try {
      const record = JSON.parse(text) as SessionRecord
      return typeof record?.node === 'string' && typeof record.token === 'string' ? record : undefined
    } catch {
      return undefined
    }
  }

  /**
   * Calls a session on another node. A node that does not answer by the
   * deadline: a timeout while it is still in the cluster, disconnected once it left.
   */
  async call (node: string, id: string, fn: string, args: string, timeout: number): Promise<unknown> {
    const { answers, failed } = await this.cluster.request<{ v?: unknown, e?: { code: string, message: string } }>('rpc:call', { id, fn, args, timeout }, { nodes: [node], timeout: answerDeadline(timeout) })
    const answer = answers.get(node)
    if (answer !== undefined) {
      if (answer.e !== undefined) throw new RpcError(answer.e.code, answer.e.message)
      return answer.v
    }
    if (failed.has(node)) throw new RpcError(RpcErrorCode.REMOTE, `node ${node} failed the call: ${failed.get(node) ?? ''}`)
    if (this.cluster.nodes.includes(node)) throw new RpcError(RpcErrorCode.TIMEOUT, `call to ${fn} timed out after ${timeout} ms (node ${node})`)
    throw new RpcError(RpcErrorCode.DISCONNECTED, `node ${node} left the cluster during the call to ${fn}`)
  }

  /**
   * Calls the sessions of other nodes (`targets`: node → the session ids
   * asked, or undefined for all of them). `each` hears the entries of each
   * node with its answer, or with `ahead` as they settle there (the ones of
   * a turn together; the answer then brings only the ones lost on the way).
   * A node that does not answer by the deadline has its sessions not heard
   * from (from its records) reported as timeouts.
   */
  async callMany (request: Omit<ManyRequest, 'sessions' | 'call'>, targets: Map<string, string[] | undefined>, each: (node: string, entries: WireEntry[]) => void, ahead = false): Promise<void> {
    // Only a caller that yields entries as they come has them sent ahead: callAll waits for all anyway.
    const call = ahead ? ++this.#calls : undefined
    // The sessions heard from so far, by node: an entry sent ahead is not reported again with its node's answer.
    const heard = new Map<string, Set<string>>([...targets.keys()].map((node) => [node, new Set()]))
    const report = (node: string, entries: WireEntry[]): void => {
      const seen = heard.get(node) as Set<string>
      const fresh = entries.filter((entry) => !seen.has(entry.id))
      for (const entry of fresh) seen.add(entry.id)
      if (fresh.length > 0) each(node, fresh)
    }
    if (call !== undefined) this.#streams.set(call, (node, entries) => { if (heard.has(node)) report(node, entries) })
    try {
      await Promise.all([...targets].map(async ([node, sessions]) => {
        let asked: Awaited<ReturnType<ClusterNode['request']>>
        try {
          asked = await this.cluster.request<WireEntry[]>('rpc:many', { ...request, sessions, call }, { nodes: [node], timeout: answerDeadline(request.timeout) })
        } catch (error) {
          // This node is closing: the other node's sessions get an entry all the same.
          asked = { answers: new Map(), failed: new Map([[node, (error as Error).message]]), missing: [] }
        }
        const { answers, failed } = asked as { answers: Map<string, WireEntry[]>, failed: Map<string, string> }
        const answer = answers.get(node)
        if (answer !== undefined) {
          report(node, answer)
          return
        }
        const ids = sessions ?? await this.#store.members(`rpc:node:${node}`).catch(() => [])
        const error = failed.has(node)
          ? { code: RpcErrorCode.REMOTE, message: `node ${node} failed the call: ${failed.get(node) ?? ''}` }
          : { code: RpcErrorCode.TIMEOUT, message: `node ${node} did not answer within ${request.timeout} ms` }
        report(node, ids.map((id) => ({ id, status: failed.has(node) ? 'error' : 'timeout', error })))
      }))
    } finally {
      if (call !== undefined) this.#streams.delete(call)
    }
  }

  /**
   * A POST of frames that reached this node for a connection another node
   * holds (a load balancer without sticky sessions): handed to that node,
   * found from the session's record. 'unknown' when no node holds it.
   */
  async forwardFrames (post: FramesPost): Promise<PostOutcome> {
    if (post.session === undefined) return 'unknown'
    const node = await this.locate(post.session)
    if (node === undefined || node === this.id) return 'unknown'
    const { answers } = await this.cluster.request<PostOutcome>('rpc:frames', post, { nodes: [node], timeout: FORWARD_TIMEOUT })
    return answers.get(node) ?? 'unknown'
  }

  /** Stops answering the other nodes and listening to their entries. */
  async close (): Promise<void> {
    for (const stop of this.#stops) stop()
    await (await this.#entries)?.()
  }
}

// How long to wait for a node's answer to a call with this timeout: a margin more, within a timer's reach.
function answerDeadline (timeout: number): number {
  return Math.min(MAX_TIMEOUT_MS, Math.ceil(timeout) + ANSWER_MARGIN)
}

function wireError (error: unknown): { code: string, message: string } {
  if (error instanceof RpcError) return { code: error.code, message: error.message }
  return { code: RpcErrorCode.REMOTE, message: (error as Error).message }
}
