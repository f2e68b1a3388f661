/**
 * WebSocket resources (Hunchensocket's `websocket-resource`): a route whose
 * connections are grouped into named instances (one per room, created on
 * demand, dropped when empty). The route is what ties a client to its room:
 * it adds the client it accepts, and takes out the one that closes.
 */
import type { WebSocket } from 'ws'
import { ResourceClient, type ClientDefinition } from './resource-client.js'
import { Resource } from './resource.js'
import { CloseCode } from './close-codes.js'
import { kAdd, kLeave, kRemove, kStart } from '../symbols.js'

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

/**
 * A declared resource (`app.resource(path, …)`): its instances by name.
 * @example const chat = app.resource('/chat/:room', { message: (client, text) => client.resource.broadcast(text) })
 */
export class ResourceRoute<Data = Record<string, unknown>, Request = unknown, Message = string> {
  /** The route path, with its parameters. */
  readonly path: string
  readonly #instances = new Map<string, Resource<ResourceClient<Data, Request, Message>>>()
  readonly #definition: ClientDefinition<Data, Request, Message>

  /**
   * @param path the route path
   * @param definition handlers, options and error reporting shared by every client
   */
  constructor (path: string, definition: ClientDefinition<Data, Request, Message>) {
    this.path = path
    // One leave function for all the route's clients, so that no client holds a closure of its own.
    this.#definition = { ...definition, [kLeave]: (client) => { this.#leave(client) } }
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
    if (instance === undefined) this.#instances.set(connection.name, instance = new Resource(connection.name))
    const client = new ResourceClient(connection.socket, instance, this.#definition, connection.request, connection)
    instance[kAdd](client)
    client[kStart]()
    return client
  }

  // A client closed: out of its room, and the room forgotten once its last client left.
  #leave (client: ResourceClient<Data, Request, Message>): void {
    const instance = client.resource
    instance[kRemove](client)
    if (instance.clients.size === 0 && this.#instances.get(instance.name) === instance) this.#instances.delete(instance.name)
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
