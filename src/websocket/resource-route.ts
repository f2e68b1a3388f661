/**
 * WebSocket resources (Hunchensocket's `websocket-resource`): a route whose
 * connections are grouped into named instances (one per room, created on
 * demand, dropped when empty). The route is what ties a client to its room:
 * it adds the client it accepts, and takes out the one that closes.
 */
import type { WebSocket } from 'ws'
import type { BroadcastOptions } from '../broadcast.js'
import type { ClusterNode } from '../cluster/node.js'
import { FST_ERR_WS_INVALID_OPTION } from '../errors.js'
import { ResourceClient, type ClientDefinition } from './resource-client.js'
import { Resource } from './resource.js'
import { CloseCode } from './close-codes.js'
import { SharedMessage } from './frame.js'
import type { OutgoingMessage } from './message.js'
import { RoomRelay } from './room-relay.js'
import { kAdd, kDeliver, kLeave, kRemove, kStart } from '../symbols.js'

/** A connection being accepted: what the transport knows about it. */
export interface Connection<Request, Data> {
  socket: WebSocket
  request: Request
  /** The resource instance it joins. */
  name: string
  /** The initial per-client data; default `{}`, made on first use. */
  data?: Data | undefined
  lastEventId?: string | undefined
}

/** Options of a `ResourceRoute` beyond its clients' definition. */
export interface ResourceRouteOptions {
  /**
   * The cluster whose nodes share the route's rooms: broadcasts reach the
   * room's clients on every node, and `presence()` asks every node. Without
   * it, rooms are this node's only.
   */
  cluster?: ClusterNode | undefined
  /** Receives what goes wrong between nodes: a relayed broadcast the backplane refused, a malformed message dropped. */
  onError?: ((error: Error) => void) | undefined
}

/** Options of `presence()`. */
export interface PresenceOptions {
  /** How long to wait for the other nodes' answers, in ms. Default 1 000. */
  timeout?: number
}

/** Who is in a room, on every node that answered. */
export interface Presence {
  /** How many clients, on the nodes that answered. */
  clients: number
  /** Their ids (`client.id`). */
  ids: string[]
  /** The nodes that answered, and those that did not within the timeout (gone, cut off, slow); without a cluster, this node alone, named `'local'`. */
  nodes: { answered: string[], missing: string[] }
}

/**
 * A declared resource (`app.resource(path, …)`): its instances by name.
 * @example const chat = app.resource('/chat/:room', { message: (client, text) => client.resource.broadcast(text) })
 */
export class ResourceRoute<Data = Record<string, unknown>, Request = unknown, Message = string> {
  /** The route path, with its parameters. */
  readonly path: string
  /** The cluster whose nodes share the route's rooms, if any. */
  readonly cluster: ClusterNode | undefined
  readonly #instances = new Map<string, Resource<ResourceClient<Data, Request, Message>>>()
  readonly #definition: ClientDefinition<Data, Request, Message>
  readonly #relay: RoomRelay | undefined
  readonly #stopPresence: (() => void) | undefined

  /**
   * @param path the route path
   * @param definition handlers, options and error reporting shared by every client
   * @param options the cluster the rooms span, and where its errors go
   */
  constructor (path: string, definition: ClientDefinition<Data, Request, Message>, options: ResourceRouteOptions = {}) {
    this.path = path
    // One leave function for all the route's clients, so that no client holds a closure of its own.
    this.#definition = { ...definition, [kLeave]: (client) => { this.#leave(client) } }
    const { cluster, onError = () => {} } = options
    this.cluster = cluster
    if (cluster === undefined) return
    this.#relay = new RoomRelay(cluster, path, (name, message) => { this.#instances.get(name)?.[kDeliver](message) }, onError)
    this.#stopPresence = cluster.handle(presenceTopic(path), (name) => {
      if (typeof name !== 'string') throw new FST_ERR_WS_INVALID_OPTION('name', 'a room name is a string')
      return this.#localIds(name)
    })
  }

  /** The instances that have clients, by name. */
  get instances (): ReadonlyMap<string, Resource<ResourceClient<Data, Request, Message>>> {
    return this.#instances
  }

  /**
   * The instance named `name`, if it has clients.
   * @example chat.get('bongo')?.clients.size
   */
  get (name: string): Resource<ResourceClient<Data, Request, Message>> | undefined {
    return this.#instances.get(name)
  }

  /**
   * Accepts an upgraded connection into the instance `name` (created if
   * needed) and starts its client.
   * @example route.accept({ socket, request, name: 'bongo' })
   */
  accept (connection: Connection<Request, Data>): ResourceClient<Data, Request, Message> {
    let instance = this.#instances.get(connection.name)
    if (instance === undefined) {
      this.#instances.set(connection.name, instance = new Resource(connection.name, this.#relay?.send))
      this.#relay?.listen()
    }
    const client = new ResourceClient(connection.socket, instance, this.#definition, connection.request, connection)
    instance[kAdd](client)
    client[kStart]()
    return client
  }

  // A client closed: out of its room, and the room forgotten once its last client left.
  #leave (client: ResourceClient<Data, Request, Message>): void {
    const instance = client.resource
    instance[kRemove](client)
    if (instance.clients.size === 0 && this.#instances.get(instance.name) === instance) {
      this.#instances.delete(instance.name)
      if (this.#instances.size === 0) this.#relay?.unlisten()
    }
  }

  /**
   * Broadcasts to the room `name` on every node of the cluster, whether or
   * not it has clients on this node (`get(name)?.broadcast()` reaches only a
   * room that has). Returns how many clients of this node it was handed to.
   * `except` names clients of this node; with a `filter` it stays on this node.
   * @example chat.broadcast('bongo', { type: 'notice', text: 'maintenance at 6' })
   */
  broadcast (name: string, message: OutgoingMessage, options?: BroadcastOptions<ResourceClient<Data, Request, Message>>): number {
    const instance = this.#instances.get(name)
    if (instance !== undefined) return instance.broadcast(message, options)
    if (this.#relay !== undefined && options?.filter === undefined) this.#relay.send(name, SharedMessage.of(message))
    return 0
  }

  /**
   * Who is in the room `name` on every node: asks the cluster's nodes and
   * resolves once all have answered, or at the `timeout` (default 1 000 ms)
   * with the nodes that did not named in `nodes.missing`. Without a cluster,
   * this node's clients.
   * @example const { clients, nodes } = await chat.presence('bongo', { timeout: 500 })
   */
  async presence (name: string, options: PresenceOptions = {}): Promise<Presence> {
    if (this.cluster === undefined) {
      const ids = this.#localIds(name)
      return { clients: ids.length, ids, nodes: { answered: ['local'], missing: [] } }
    }
    const { answers, failed, missing } = await this.cluster.request<unknown>(presenceTopic(this.path), name, { timeout: options.timeout })
    const ids: string[] = []
    const answered: string[] = []
    const unanswered = [...missing, ...failed.keys()]
    for (const [node, answer] of answers) {
      if (Array.isArray(answer) && answer.every((id) => typeof id === 'string')) {
        answered.push(node)
        ids.push(...answer as string[])
      } else {
        unanswered.push(node)
      }
    }
    return { clients: ids.length, ids, nodes: { answered, missing: unanswered } }
  }

  /**
   * Resolves once this node receives the other nodes' broadcasts to the
   * route's rooms: at once without a cluster or without a room here (a node
   * listens while the route has a room on it).
   * @example await chat.ready()
   */
  async ready (): Promise<void> {
    await this.#relay?.ready()
  }

  /**
   * Leaves the cluster's rooms: stops relaying and listening, and answering
   * presence. The app's close does this after `closeAll()`; clients are left
   * as they are.
   * @example await chat.close()
   */
  async close (): Promise<void> {
    this.#stopPresence?.()
    await this.#relay?.close()
  }

  #localIds (name: string): string[] {
    const instance = this.#instances.get(name)
    return instance === undefined ? [] : [...instance.clients].map((client) => client.id)
  }

  /**
   * Closes every client with 1001 (Going Away), terminates those that have
   * not finished the closing handshake after `timeout` ms, and waits (within
   * the same `timeout`) for their `disconnected` handlers to settle.
   * @example await route.closeAll(2000)
   */
  async closeAll (timeout: number): Promise<void> {
    const clients = [...this.#instances.values()].flatMap((instance) => [...instance.clients])
    if (clients.length === 0) return
    const gone = clients.map((client) => new Promise<void>((resolve) => { client.onClose(() => { resolve() }) }))
    for (const client of clients) client.close(CloseCode.GOING_AWAY, 'Server shutting down')
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeout) })
    await Promise.race([Promise.all(gone), deadline])
    for (const client of clients) client.terminate()
    await Promise.all(gone)
    await Promise.race([Promise.all(clients.map((client) => client.finished)), deadline])
    clearTimeout(timer)
  }
}

/** The cluster topic on which a route's nodes answer presence. */
function presenceTopic (path: string): string {
  return `ws:presence:${path}`
}
