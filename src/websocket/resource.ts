/**
 * WebSocket resources (Hunchensocket's `websocket-resource`): a route whose
 * connections are grouped into named instances (one per room, created on
 * demand, dropped when empty), each with its clients and an encode-once
 * broadcast.
 */
import type { WebSocket } from 'ws'
import { ResourceClient, type ClientDefinition } from './client.js'
import { encodeMessage, type OutgoingMessage } from './message.js'
import { SharedMessage } from './frame.js'
import { CloseCode } from './close-codes.js'
import { isExcepted, type BroadcastOptions } from '../broadcast.js'

/**
 * One instance of a resource: the clients of one room.
 * @example route.get('bongo')?.broadcast({ type: 'say', text: 'hi' })
 */
export class Resource<Data = Record<string, unknown>, Request = unknown, Message = string> {
  /** The instance name the resolve step gave (by default the request path). */
  readonly name: string
  readonly #clients = new Set<ResourceClient<Data, Request, Message>>()
  readonly #route: ResourceRoute<Data, Request, Message>

  /**
   * @param name the instance name
   * @param route the declaration it belongs to (it drops the instance once empty)
   */
  constructor (name: string, route: ResourceRoute<Data, Request, Message>) {
    this.name = name
    this.#route = route
  }

  /** The connected clients. */
  get clients (): ReadonlySet<ResourceClient<Data, Request, Message>> {
    return this.#clients
  }

  /**
   * Sends one message to every client, encoded and framed once: text and JSON
   * become one Buffer, framed on first need, handed to every socket. Never
   * waits for a slow client (each applies its own overflow policy). Returns how
   * many clients it was handed to. An error thrown by `filter` is the caller's:
   * it stops the broadcast and is thrown.
   * @example room.broadcast({ type: 'say', from: client.data.name, text }, { except: client })
   */
  broadcast (message: OutgoingMessage, options?: BroadcastOptions<ResourceClient<Data, Request, Message>>): number {
    const { data, binary } = encodeMessage(message)
    // UTF-8 and the frame once, not once per socket.
    const shared = new SharedMessage(typeof data === 'string' ? Buffer.from(data) : data, binary)
    const except = options?.except
    const filter = options?.filter
    let count = 0
    for (const client of this.#clients) {
      if (isExcepted(client, except)) continue
      if (filter !== undefined && !filter(client)) continue
      if (client.sendShared(shared)) count++
    }
    return count
  }

  /** Adds a client (the route does this when one connects). */
  add (client: ResourceClient<Data, Request, Message>): void {
    this.#clients.add(client)
  }

  /** Forgets a client that closed; the route drops the instance once empty. */
  remove (client: ResourceClient<Data, Request, Message>): void {
    if (this.#clients.delete(client) && this.#clients.size === 0) this.#route.drop(this)
  }
}

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
  readonly #instances = new Map<string, Resource<Data, Request, Message>>()
  readonly #definition: ClientDefinition<Data, Request, Message>

  /**
   * @param path the route path
   * @param definition handlers, options and error reporting shared by every client
   */
  constructor (path: string, definition: ClientDefinition<Data, Request, Message>) {
    this.path = path
    this.#definition = definition
  }

  /** The instances that have clients, by name. */
  get instances (): ReadonlyMap<string, Resource<Data, Request, Message>> {
    return this.#instances
  }

  /**
   * The instance named `name`, if it has clients.
   * @example chat.get('bongo')?.clients.size
   */
  get (name: string): Resource<Data, Request, Message> | undefined {
    return this.#instances.get(name)
  }

  /**
   * Accepts an upgraded connection into the instance `name` (created if
   * needed) and starts its client.
   * @example route.accept({ socket, request, name: 'bongo' })
   */
  accept (connection: Connection<Request, Data>): ResourceClient<Data, Request, Message> {
    let instance = this.#instances.get(connection.name)
    if (instance === undefined) this.#instances.set(connection.name, instance = new Resource(connection.name, this))
    const client = new ResourceClient(connection.socket, instance, this.#definition, connection.request, connection)
    instance.add(client)
    client.start()
    return client
  }

  /** Forgets an instance whose last client left. */
  drop (instance: Resource<Data, Request, Message>): void {
    if (this.#instances.get(instance.name) === instance) this.#instances.delete(instance.name)
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
