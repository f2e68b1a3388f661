/**
 * The broadcaster: the Datastar methods (and `send()`) of a broadcast. Each
 * encodes its event once, without an `id:` line, and publishes it; it
 * resolves with the id the backplane gave the event. A registry is a
 * broadcaster to all its subscribers; `registry.to(key)` is one to a key's.
 */
import { encodeEvent, type SSEMessage } from '../sse/format.js'
import type { EventOptions } from '../datastar/events.js'
import { defineDatastarMethods, type DatastarMethods } from '../datastar/methods.js'
import type { BroadcastOptions } from '../broadcast.js'
import type { Subscriber } from './subscriber.js'

/**
 * The Datastar methods of a broadcast; every method resolves with the id the
 * event got. Options also take `except` and `filter` (BroadcastOptions).
 * @example
 * await registry.patchElements('<ul id="messages">…</ul>', { except: sender })
 * await registry.to(sessionId).patchSignals({ saved: true })
 */
export abstract class Broadcaster<S extends Subscriber = Subscriber> {
  /** Publishes an event encoded without an `id:` line. */
  abstract publish (payload: string, options?: BroadcastOptions<S>): Promise<string>

  /**
   * Broadcasts an SSE event (its id is given by the registry).
   * @example await registry.send({ event: 'chat', data: JSON.stringify(message) })
   */
  send (message: Omit<SSEMessage, 'id'>, options?: BroadcastOptions<S>): Promise<string> {
    return this.publish(encodeEvent({ ...message, id: undefined }), options)
  }
}

// The Datastar methods are declared once, in datastar/methods.ts, and defined from its table.
export interface Broadcaster<S extends Subscriber = Subscriber> extends DatastarMethods<Promise<string>, BroadcastOptions<S>> {}

defineDatastarMethods(Broadcaster.prototype, function (event, options) { return this.publish(event, options) }, withoutId)

/** What a keyed broadcaster publishes through: a registry. */
interface KeyedPublisher<S extends Subscriber> {
  publish (payload: string, options: BroadcastOptions<S> | undefined, key: string): Promise<string>
}

/** `registry.to(key)`: the registry's broadcasts, for one key's subscribers (internal). */
export class KeyedBroadcaster<S extends Subscriber> extends Broadcaster<S> {
  readonly #registry: KeyedPublisher<S>
  readonly #key: string

  constructor (registry: KeyedPublisher<S>, key: string) {
    super()
    this.#registry = registry
    this.#key = key
  }

  publish (payload: string, options?: BroadcastOptions<S>): Promise<string> {
    return this.#registry.publish(payload, options, this.#key)
  }
}

// The registry gives ids; broadcast options are not event options.
function withoutId (options: EventOptions & BroadcastOptions<Subscriber>): EventOptions {
  const { eventId: _eventId, except: _except, filter: _filter, ...rest } = options
  return rest
}
