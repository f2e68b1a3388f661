/**
 * The sending side of a `drop-oldest` client: messages go to ws at once while
 * the client's unsent bytes stay within the soft bound; past it the newest
 * ones wait here and go out as ws reports earlier sends flushed. The oldest
 * waiting ones give way past the hard bound at once, and down to the soft
 * bound once the client has stayed above it for the stall time. For
 * latest-state feeds, where an old state is worth nothing.
 */
import type { WebSocket } from 'ws'
import { StallClock, type SlowConsumerLimits } from '../slow-consumer.js'

interface Queued {
  payload: Buffer | string
  binary: boolean
  size: number
}

/**
 * A bounded, newest-first sender over one ws socket.
 * @example const sender = new DropOldestSender(socket, slowConsumerLimits({ overflow: 'drop-oldest' })); sender.send(bytes, false, bytes.length)
 */
export class DropOldestSender {
  readonly #socket: WebSocket
  readonly #clock: StallClock
  #queue: Queued[] = []
  #queuedBytes = 0
  // Our sends whose flush callback has not run yet: only they can wake the queue.
  #inFlight = 0
  readonly #flushed = (): void => {
    this.#inFlight--
    this.#clock.drained(this.#socket.bufferedAmount + this.#queuedBytes)
    this.#flush()
  }

  /**
   * @param socket the ws socket to send through
   * @param limits the soft and hard bounds of unsent bytes (ws's and ours) and the stall time
   */
  constructor (socket: WebSocket, limits: SlowConsumerLimits) {
    this.#socket = socket
    this.#clock = new StallClock(limits, () => { this.#stalled() })
  }

  /** Bytes waiting here (not yet handed to ws). */
  get queuedBytes (): number {
    return this.#queuedBytes
  }

  /** Sends now, or queues behind what waits, dropping the oldest past the hard bound. */
  send (payload: Buffer | string, binary: boolean, size: number): void {
    const buffered = this.#socket.bufferedAmount
    // A single message bigger than the bound still goes out when nothing waits.
    if (this.#queue.length === 0 && (buffered === 0 || buffered + size <= this.#clock.limits.maxBufferedBytes)) {
      this.#sendNow(payload, binary)
      return
    }
    this.#queue.push({ payload, binary, size })
    this.#queuedBytes += size
    if (this.#clock.check(buffered + this.#queuedBytes)) this.#dropOldest(this.#clock.limits.hardMaxBufferedBytes)
    // With none of our sends in flight no callback would come: flush now (what fills ws is not ours).
    if (this.#inFlight === 0) this.#flush()
  }

  /** Forgets what waits (the connection is gone). */
  clear (): void {
    this.#queue = []
    this.#queuedBytes = 0
    this.#clock.stop()
  }

  // Above the soft bound for the stall time: down to it, the newest message kept; the clock runs again if ws alone holds more.
  #stalled (): void {
    this.#dropOldest(this.#clock.limits.maxBufferedBytes)
    this.#clock.check(this.#socket.bufferedAmount + this.#queuedBytes)
  }

  #dropOldest (bound: number): void {
    const room = bound - this.#socket.bufferedAmount
    while (this.#queue.length > 1 && this.#queuedBytes > room) this.#queuedBytes -= this.#queue.shift()!.size
  }

  #flush (): void {
    const socket = this.#socket
    if (socket.readyState !== socket.OPEN) return
    const queue = this.#queue
    while (queue.length > 0) {
      const head = queue[0]!
      const buffered = socket.bufferedAmount
      // Wait only for a flush callback that will come: one of our sends is still in flight.
      if (this.#inFlight > 0 && buffered !== 0 && buffered + head.size > this.#clock.limits.maxBufferedBytes) return
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
