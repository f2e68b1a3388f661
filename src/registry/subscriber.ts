/** What a registry needs of a subscriber, whatever its transport. */
import type { SharedEvent } from '../sse/chunk.js'

/**
 * What a registry needs of a subscriber, whatever its transport: an SSE or
 * Datastar stream, a WebSocket client, a long-poll waiter.
 * @example
 * const custom: Subscriber = { write: (bytes) => socket.write(bytes), onClose: (handler) => socket.once('close', () => handler(custom)), isClosed: false }
 */
export interface Subscriber {
  /** Hands over encoded event bytes; must not block or throw for a slow client. */
  write (encoded: string | Buffer): unknown
  /**
   * Optional, used instead of `write(event.bytes)` for broadcasts: the same
   * bytes plus, made once per event, their HTTP/1.1 chunk framing (an SSE
   * stream writes that straight to its socket). Same rules as `write()`.
   */
  writeShared? (event: SharedEvent): unknown
  /**
   * Optional: resolves once what the subscriber queued has been handed to its
   * socket (an SSE stream's `drained()`); what `registry.drained()` waits for.
   */
  drained? (): Promise<unknown>
  /** Runs `handler` once the subscriber is gone, passing the subscriber. */
  onClose (handler: (subscriber: this) => void): void
  readonly isClosed: boolean
  /** The id the client resumes from (an SSE stream's Last-Event-ID). */
  readonly lastEventId?: string | undefined
}
