/**
 * Rooms across nodes: the broadcasts of a resource route's rooms go to the
 * other nodes of its cluster on one ephemeral channel per route
 * (`ws:<path>`), the room's name inside each message; a node listens to it
 * while the route has a room on it (one subscription per route, however many
 * rooms: Redis is not asked to track thousands of room channels). The
 * message carries the encoded bytes once; each node frames them once for its
 * own clients.
 *
 * A relayed message: one byte of flags (1: binary), the room name's length
 * in bytes (16 bits, big-endian), the name (UTF-8), then the message bytes.
 */
import type { ClusterNode } from '../cluster/node.js'
import { FST_ERR_CLUSTER_MALFORMED_MESSAGE } from '../errors.js'
import { SharedMessage } from './frame.js'

const BINARY = 1
const HEADER_BYTES = 3
const MAX_NAME_BYTES = 0xffff

/** Where a relayed message goes: the room `name` of this node, if it has one. */
export type RelayDelivery = (name: string, message: SharedMessage) => void

/**
 * The relay of one resource route: sends its rooms' broadcasts, and delivers
 * the other nodes' to the rooms of this node.
 * @example const relay = new RoomRelay(cluster, '/chat/:room', (name, message) => route.get(name)?.[kDeliver](message), report)
 */
export class RoomRelay {
  /** The channel of the route's rooms on the backplane. */
  readonly channel: string
  readonly #cluster: ClusterNode
  readonly #deliver: RelayDelivery
  readonly #onError: (error: Error) => void
  // While listening: settles with the function that stops (undefined if the subscription failed).
  #subscription: Promise<(() => Promise<void>) | undefined> | undefined
  // Subscriptions being stopped, which close() waits for.
  readonly #stopping = new Set<Promise<void>>()
  #closed = false

  constructor (cluster: ClusterNode, path: string, deliver: RelayDelivery, onError: (error: Error) => void) {
    this.channel = `ws:${path}`
    this.#cluster = cluster
    this.#deliver = deliver
    this.#onError = onError
  }

  /**
   * Sends a broadcast of room `name` to the other nodes; a failure is reported, never thrown at the broadcaster.
   * @example relay.send('bongo', SharedMessage.of({ type: 'say', text: 'hi' }))
   */
  readonly send = (name: string, message: SharedMessage): void => {
    if (this.#closed) return
    const nameBytes = Buffer.from(name)
    if (nameBytes.length > MAX_NAME_BYTES) {
      this.#onError(new RangeError(`room name of ${nameBytes.length} bytes is too long to cross nodes (${MAX_NAME_BYTES} at most)`))
      return
    }
    const payload = Buffer.allocUnsafe(HEADER_BYTES + nameBytes.length + message.bytes.length)
    payload[0] = message.binary ? BINARY : 0
    payload.writeUInt16BE(nameBytes.length, 1)
    nameBytes.copy(payload, HEADER_BYTES)
    message.bytes.copy(payload, HEADER_BYTES + nameBytes.length)
    this.#cluster.publish(this.channel, payload).catch(this.#onError)
  }

  /**
   * Listens to the other nodes' broadcasts (the route has a room here now); nothing more if it already does.
   * @example relay.listen() // the route's first room on this node
   */
  listen (): void {
    if (this.#subscription !== undefined || this.#closed) return
    this.#subscription = this.#cluster.subscribe(this.channel, this.#receive).catch((error: Error) => {
      this.#onError(error)
      return undefined
    })
  }

  /**
   * Stops listening (the route's last room here is gone).
   * @example relay.unlisten() // the route's last room on this node was dropped
   */
  unlisten (): void {
    const subscription = this.#subscription
    if (subscription === undefined) return
    this.#subscription = undefined
    const stopping: Promise<void> = subscription
      .then((stop) => stop?.())
      .catch(this.#onError)
      .finally(() => { this.#stopping.delete(stopping) })
    this.#stopping.add(stopping)
  }

  /**
   * Resolves once listening (at once when not asked to listen).
   * @example await relay.ready()
   */
  async ready (): Promise<void> {
    await this.#subscription
  }

  /**
   * Stops listening and sending; resolves once the subscription is let go.
   * @example await relay.close()
   */
  async close (): Promise<void> {
    this.#closed = true
    this.unlisten()
    await Promise.all([...this.#stopping])
  }

  readonly #receive = (payload: Buffer): void => {
    const flags = payload[0]
    const nameLength = payload.length < HEADER_BYTES ? -1 : payload.readUInt16BE(1)
    if (flags === undefined || nameLength < 0 || (flags & ~BINARY) !== 0 || HEADER_BYTES + nameLength > payload.length) {
      this.#onError(new FST_ERR_CLUSTER_MALFORMED_MESSAGE(this.channel, 'not a room message'))
      return
    }
    const name = payload.toString('utf8', HEADER_BYTES, HEADER_BYTES + nameLength)
    // The received bytes themselves, not a copy: this node frames them once for its clients.
    this.#deliver(name, new SharedMessage(payload.subarray(HEADER_BYTES + nameLength), flags === BINARY))
  }
}
