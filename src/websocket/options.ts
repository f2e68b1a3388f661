/**
 * Options of WebSocket resources, their defaults and their validation (at
 * register and declaration time, so a mistake fails at startup).
 */
import { FST_ERR_WS_INVALID_OPTION } from '../errors.js'
import type { Envelope } from './envelope.js'
import { DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_STALL_TIMEOUT, OVERFLOW_POLICIES, type OverflowPolicy } from '../slow-consumer.js'
import type { OriginPolicy } from './origin.js'
import { isProtocolName } from './protocol.js'

/** What a message that fails the resource's schema (or is not JSON) gets. */
export type InvalidMessagePolicy = 'close' | 'reply'

/** Settings of a resource; each defaults to the plugin's, which default to the values below. */
export interface ResourceOptions {
  /** Largest message accepted, in bytes; bigger ones close with 1009. Default 1 MiB. */
  maxPayload?: number
  /** Ms a message may take from its first bytes to its last (every fragment); a slower one closes with 1008. Default 30 000. */
  messageTimeout?: number
  /** Ping interval in ms; a peer that has not answered the previous ping is terminated. `false` for none. Default 30 000. */
  heartbeat?: number | false
  /** Soft bound: unsent bytes a client may hold for up to `stallTimeout` ms (a burst it reads). Default 1 MiB. */
  maxBufferedBytes?: number
  /** Hard bound: unsent bytes past which `overflow` applies at once. Default 16 × `maxBufferedBytes`. */
  hardMaxBufferedBytes?: number
  /** How long a client may stay above `maxBufferedBytes` before `overflow` applies, in ms. Default 10 000. */
  stallTimeout?: number
  /** For a slow client: `'close'` (default: terminate it) or `'drop-oldest'` queued messages (latest-state feeds). */
  overflow?: OverflowPolicy
  /** How registry (Datastar) events are delivered: `'json'` (default) or `'sse'` text. */
  envelope?: Envelope
  /** A message that is not JSON or fails the schema: `'close'` with 1008 (default) or `'reply'` with an error message. */
  invalidMessage?: InvalidMessagePolicy
  /** Browser origins allowed to connect. Default `'same-origin'`. */
  origins?: OriginPolicy
  /** Subprotocols the resource speaks, preferred first; the client must offer one of them when it offers any. */
  protocols?: readonly string[]
}

/** Resource settings with every default applied. */
export interface ResolvedResourceOptions {
  maxPayload: number
  messageTimeout: number
  heartbeat: number | false
  maxBufferedBytes: number
  hardMaxBufferedBytes: number | undefined
  stallTimeout: number
  overflow: OverflowPolicy
  envelope: Envelope
  invalidMessage: InvalidMessagePolicy
  origins: OriginPolicy
  protocols: readonly string[]
}

/** The defaults of every resource. */
export const RESOURCE_DEFAULTS: Readonly<ResolvedResourceOptions> = Object.freeze({
  maxPayload: 1024 * 1024,
  messageTimeout: 30_000,
  heartbeat: 30_000,
  maxBufferedBytes: DEFAULT_MAX_BUFFERED_BYTES,
  // Derived from maxBufferedBytes unless set (slowConsumerLimits()).
  hardMaxBufferedBytes: undefined,
  stallTimeout: DEFAULT_STALL_TIMEOUT,
  overflow: 'close',
  envelope: 'json',
  invalidMessage: 'close',
  origins: 'same-origin',
  protocols: Object.freeze([])
})

/**
 * Applies `options` over `base`, validating each given value.
 * @example resolveResourceOptions({ heartbeat: 10_000 }).heartbeat // 10000
 */
export function resolveResourceOptions (options: ResourceOptions = {}, base: ResolvedResourceOptions = RESOURCE_DEFAULTS): ResolvedResourceOptions {
  return {
    maxPayload: options.maxPayload === undefined ? base.maxPayload : positiveInteger('maxPayload', options.maxPayload),
    messageTimeout: options.messageTimeout === undefined ? base.messageTimeout : positiveInteger('messageTimeout', options.messageTimeout),
    heartbeat: options.heartbeat === undefined ? base.heartbeat : options.heartbeat === false ? false : positiveInteger('heartbeat', options.heartbeat),
    maxBufferedBytes: options.maxBufferedBytes === undefined ? base.maxBufferedBytes : positiveInteger('maxBufferedBytes', options.maxBufferedBytes),
    hardMaxBufferedBytes: options.hardMaxBufferedBytes === undefined ? base.hardMaxBufferedBytes : positiveInteger('hardMaxBufferedBytes', options.hardMaxBufferedBytes),
    stallTimeout: options.stallTimeout === undefined ? base.stallTimeout : positiveInteger('stallTimeout', options.stallTimeout),
    overflow: options.overflow === undefined ? base.overflow : oneOf('overflow', options.overflow, OVERFLOW_POLICIES),
    envelope: options.envelope === undefined ? base.envelope : oneOf('envelope', options.envelope, ['json', 'sse']),
    invalidMessage: options.invalidMessage === undefined ? base.invalidMessage : oneOf('invalidMessage', options.invalidMessage, ['close', 'reply']),
    origins: options.origins === undefined ? base.origins : originPolicy(options.origins),
    protocols: options.protocols === undefined ? base.protocols : protocolList(options.protocols)
  }
}

function positiveInteger (name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new FST_ERR_WS_INVALID_OPTION(name, `expected a positive integer, got ${String(value)}`)
  }
  return value
}

function oneOf<T extends string> (name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new FST_ERR_WS_INVALID_OPTION(name, `expected one of ${allowed.map((entry) => `"${entry}"`).join(', ')}, got ${String(value)}`)
  }
  return value as T
}

function originPolicy (value: unknown): OriginPolicy {
  if (value === false || value === 'same-origin' || typeof value === 'function') return value as OriginPolicy
  if (Array.isArray(value)) {
    // Compared with the Origin header, which is a serialized origin: scheme://host[:port], lowercase.
    return Object.freeze(value.map((entry) => {
      try {
        return new URL(String(entry)).origin
      } catch {
        throw new FST_ERR_WS_INVALID_OPTION('origins', `expected origins like "https://app.example.com", got ${String(entry)}`)
      }
    }))
  }
  throw new FST_ERR_WS_INVALID_OPTION('origins', 'expected "same-origin", false, a list of origins or a function')
}

function protocolList (value: unknown): readonly string[] {
  if (!Array.isArray(value) || !value.every(isProtocolName)) {
    throw new FST_ERR_WS_INVALID_OPTION('protocols', 'expected a list of subprotocol names (HTTP tokens)')
  }
  return Object.freeze([...value])
}
