/**
 * One instance of a WebSocket resource (Hunchensocket's `websocket-resource`
 * instance): the clients of one room and an encode-once broadcast. Its route
 * (resource-route.ts) creates it, adds and removes its clients, and drops it
 * once empty.
 */
import type { OutgoingMessage } from './message.js'
import { SharedMessage } from './frame.js'
import { isExcepted, type BroadcastOptions, type BroadcastStats } from '../broadcast.js'
import { closedAsSlowConsumer } from '../slow-consumer.js'
import { kAdd, kDeliver, kRemove } from '../symbols.js'

/** What a resource needs of its clients: to take a broadcast's shared message (a ResourceClient does). */
export interface ResourceMember {
  sendShared: (message: SharedMessage) => boolean
}

/** Carries a broadcast of the instance `name` to the other nodes (its route's relay, when the route has a cluster). */
export type BroadcastRelay = (name: string, message: SharedMessage) => void

/**
 * One instance of a resource: the clients of one room, typed by its `Client`
 * (a route's instances are `Resource<ResourceClient<Data, Request, Message>>`).
 * @example route.get('bongo')?.broadcast({ type: 'say', text: 'hi' })
 */
export class Resource<Client extends ResourceMember = ResourceMember> {
  /** The instance name the resolve step gave (by default the request path). */
  readonly name: string
  readonly #clients = new Set<Client>()
  readonly #relay: BroadcastRelay | undefined
  // Counters of stats().
  #events = 0
  #bytes = 0
  #slowConsumerCloses = 0

  /**
   * @param name the instance name
   * @param relay carries its broadcasts to the other nodes (its route gives it one when it has a cluster)
   */
  constructor (name: string, relay?: BroadcastRelay) {
    this.name = name
    this.#relay = relay
  }

  /** The connected clients. */
  get clients (): ReadonlySet<Client> {
    return this.#clients
  }

  /**
   * The instance's counters since it was created (a room dropped once empty starts again from zero).
   * @example const { members, slowConsumerCloses } = room.stats()
   */
  stats (): BroadcastStats {
    return { members: this.#clients.size, events: this.#events, bytes: this.#bytes, slowConsumerCloses: this.#slowConsumerCloses }
  }

  /**
   * Sends one message to every client, encoded and framed once: text and JSON
   * become one Buffer, framed on first need, handed to every socket. Never
   * waits for a slow client (each applies its own overflow policy). Returns how
   * many clients of this node it was handed to. An error thrown by `filter` is
   * the caller's: it stops the broadcast and is thrown. When the route has a
   * cluster (a backplane), the message also goes to the room's clients on
   * every other node, there to all of them (`except` names clients of this
   * node); a broadcast with a `filter` stays on this node.
   * @example room.broadcast({ type: 'say', from: client.data.name, text }, { except: client })
   */
  broadcast (message: OutgoingMessage, options?: BroadcastOptions<Client>): number {
    // UTF-8 and the frame once, not once per socket.
    const shared = SharedMessage.of(message)
    const count = this[kDeliver](shared, options)
    // A filter can only be run here: a filtered broadcast stays on this node.
    if (this.#relay !== undefined && options?.filter === undefined) this.#relay(this.name, shared)
    return count
  }

  /** Hands a shared message to this node's clients (a broadcast here, or one relayed from another node); how many took it. */
  [kDeliver] (shared: SharedMessage, options?: BroadcastOptions<Client>): number {
    const except = options?.except
    const filter = options?.filter
    let count = 0
    for (const client of this.#clients) {
      if (except !== undefined && isExcepted(client, except)) continue
      if (filter !== undefined && !filter(client)) continue
      if (client.sendShared(shared)) count++
    }
    this.#events++
    this.#bytes += shared.bytes.length * count
    return count
  }

  /** Adds a client (the route does this when one connects). */
  [kAdd] (client: Client): void {
    this.#clients.add(client)
  }

  /** Forgets a client that closed (the route does this, and drops the instance once empty). */
  [kRemove] (client: Client): void {
    if (this.#clients.delete(client) && closedAsSlowConsumer(client)) this.#slowConsumerCloses++
  }
}
