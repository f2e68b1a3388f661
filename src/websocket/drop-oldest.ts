/**
 * The sending side of a `drop-oldest` client: messages go to ws at once while
 * the client's unsent bytes stay within the bound; past it the newest ones
 * wait here, the oldest giving way, and go out as ws reports earlier sends
 * flushed. For latest-state feeds, where an old state is worth nothing.
 */
import type { WebSocket } from 'ws'

interface Queued {
  payload: Buffer | string
  binary: boolean
  size: number
}

/**
 * A bounded, newest-first sender over one ws socket.
 * @example const sender = new DropOldestSender(socket, 1024 * 1024); sender.send(bytes, false, bytes.length)
 */
export class DropOldestSender {
  readonly #socket: WebSocket
  readonly #bound: number
  #queue: Queued[] = []
  #queuedBytes = 0
  // Our sends whose flush callback has not run yet: only they can wake the queue.
  #inFlight = 0
  readonly #flushed = (): void => {
    this.#inFlight--
    this.#flush()
  }

  /**
   * @param socket the ws socket to send through
   * @param bound unsent bytes (ws's and ours) past which the oldest waiting messages are dropped
   */
  constructor (socket: WebSocket, bound: number) {
    this.#socket = socket
    this.#bound = bound
  }

  /** Bytes waiting here (not yet handed to ws). */
  get queuedBytes (): number {
    return this.#queuedBytes
  }

  /** Sends now, or queues behind what waits, dropping the oldest past the bound. */
  send (payload: Buffer | string, binary: boolean, size: number): void {
    const buffered = this.#socket.bufferedAmount
    // A single message bigger than the bound still goes out when nothing waits.
    if (this.#queue.length === 0 && (buffered === 0 || buffered + size <= this.#bound)) {
      this.#sendNow(payload, binary)
      return
    }
    this.#queue.push({ payload, binary, size })
    this.#queuedBytes += size
    const room = this.#bound - buffered
    while (this.#queue.length > 1 && this.#queuedBytes > room) this.#queuedBytes -= this.#queue.shift()!.size
    // With none of our sends in flight no callback would come: flush now (what fills ws is not ours).
    if (this.#inFlight === 0) this.#flush()
  }

  /** Forgets what waits (the connection is gone). */
  clear (): void {
    this.#queue = []
    this.#queuedBytes = 0
  }

  #flush (): void {
    const socket = this.#socket
    if (socket.readyState !== socket.OPEN) return
    const queue = this.#queue
    while (queue.length > 0) {
      const head = queue[0]!
      const buffered = socket.bufferedAmount
      // Wait only for a flush callback that will come: one of our sends is still in flight.
      if (this.#inFlight > 0 && buffered !== 0 && buffered + head.size > this.#bound) return
      queue.shift()
      this.#queuedBytes -= head.size
      this.#sendNow(head.payload, head.binary)
    }
  }

  #sendNow (payload: Buffer | string, binary: boolean): void {
    this.#inFlight++
    this.#socket.send(payload, { binary }, this.#flushed)
  }
}
