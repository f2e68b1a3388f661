/**
 * Options of registries (and of their `add()` and `poll()`), their defaults
 * and their validation (at construction, so a mistake fails at startup).
 */
import { FST_ERR_REGISTRY_INVALID_OPTION } from '../errors.js'
import { DEFAULT_MAX_BUFFERED_BYTES } from '../slow-consumer.js'
import { MemoryBackplane, type Backplane } from './backplane.js'
import type { Subscriber } from './subscriber.js'

/** Options of a registry. */
export interface RegistryOptions<S extends Subscriber = Subscriber> {
  /** Events kept for replay. Default 256; 0 disables replay. */
  replay?: number
  /**
   * Gather the events published within one event-loop turn (0, the default)
   * or this many ms and write them to each subscriber at once (one write, one
   * syscall, per subscriber per window). `false`: every event is written when
   * it is published. A publish resolves once its event is written.
   */
  coalesce?: number | false
  /**
   * Largest replay, in bytes: a subscriber that missed more is resynced
   * (`onResync`) instead, and a long-poll answer stops there (its cursor
   * fetches the rest). Default 1 MiB, the soft bound of a stream.
   */
  maxReplayBytes?: number
  /** Called for a subscriber whose Last-Event-ID is older than the ring, or that missed more than `maxReplayBytes`: send it the full state. */
  onResync?: (subscriber: S, lastEventId: string) => void
  /** Shares events between nodes. Default: an in-memory backplane (this node only). */
  backplane?: Backplane
  /** Receives errors thrown by subscribers' writes and hooks. */
  onError?: (error: Error) => void
}

/** Registry options with every default applied. */
export interface ResolvedRegistryOptions<S extends Subscriber = Subscriber> {
  replay: number
  coalesce: number | false
  maxReplayBytes: number
  onResync: ((subscriber: S, lastEventId: string) => void) | undefined
  backplane: Backplane
  onError: ((error: Error) => void) | undefined
}

/** Options of `add()`. */
export interface AddOptions {
  /** Unicast key: `registry.to(key)` reaches the subscribers added with it. */
  key?: string
  /** Replay what came after this id; defaults to the subscriber's own `lastEventId`. */
  lastEventId?: string
}

/** Options of `poll()`. */
export interface PollOptions {
  /** How long to hold the request when nothing is newer than the cursor; default 25 000 ms with ±10 % jitter. */
  timeout?: number
  /** Ends the wait (the client went away). */
  signal?: AbortSignal
  /** Also receive the unicast events of this key. */
  key?: string
}

/** Default long-poll hold. */
export const DEFAULT_POLL_TIMEOUT = 25_000
/** Default replay ring capacity. */
export const DEFAULT_REPLAY = 256

/**
 * Validates registry options.
 * @example validateRegistryOptions({ replay: 1000, coalesce: 2 })
 */
export function validateRegistryOptions<S extends Subscriber> (options: RegistryOptions<S>): RegistryOptions<S> {
  if (options.replay !== undefined && (!Number.isSafeInteger(options.replay) || options.replay < 0)) {
    throw new FST_ERR_REGISTRY_INVALID_OPTION('replay', `expected a number of events >= 0, got ${String(options.replay)}`)
  }
  if (options.coalesce !== undefined && options.coalesce !== false && (typeof options.coalesce !== 'number' || !(options.coalesce >= 0) || options.coalesce > 1000)) {
    throw new FST_ERR_REGISTRY_INVALID_OPTION('coalesce', 'expected false or a number of milliseconds from 0 to 1000')
  }
  if (options.maxReplayBytes !== undefined && (!Number.isSafeInteger(options.maxReplayBytes) || options.maxReplayBytes <= 0)) {
    throw new FST_ERR_REGISTRY_INVALID_OPTION('maxReplayBytes', `expected a positive integer of bytes, got ${String(options.maxReplayBytes)}`)
  }
  if (options.onResync !== undefined && typeof options.onResync !== 'function') {
    throw new FST_ERR_REGISTRY_INVALID_OPTION('onResync', 'expected a function')
  }
  return options
}

/**
 * Validates `options` and applies the defaults; each registry gets its own
 * in-memory backplane when none is given.
 * @example resolveRegistryOptions({ coalesce: 2 }).replay // 256
 */
export function resolveRegistryOptions<S extends Subscriber> (options: RegistryOptions<S> = {}): ResolvedRegistryOptions<S> {
  validateRegistryOptions(options)
  return {
    replay: options.replay ?? DEFAULT_REPLAY,
    coalesce: options.coalesce ?? 0,
    maxReplayBytes: options.maxReplayBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
    onResync: options.onResync,
    backplane: options.backplane ?? new MemoryBackplane(),
    onError: options.onError
  }
}
