/**
 * Settings of event streams, their defaults and their validation. A plugin,
 * a route (`config.sse`) and a stream can each set them; each level refines
 * the one before it, and compression tunings merge per algorithm.
 */
import { FST_ERR_SSE_INVALID_OPTION } from '../errors.js'
import { DEFAULT_MAX_BUFFERED_BYTES, OVERFLOW_POLICIES, type OverflowPolicy } from '../overflow.js'
import { resolveCompression, validateCompression, type CompressionOptions } from './compression.js'

/** Stream settings that a plugin, a route (`config.sse`) and a stream can each set. */
export interface StreamSettings {
  /** Interval of keep-alive comments in ms, or `false` for none. Default 30 000. */
  keepAlive?: number | false
  /** Per-event compression negotiated from Accept-Encoding; `false` turns it off. Default on. */
  compression?: boolean | CompressionOptions
  /** Bytes that may queue for a client that reads slower than events come. Default 1 MiB. */
  maxBufferedBytes?: number
  /** Past that bound: `'close'` the stream (default) or `'drop-oldest'` queued events (latest-state streams). */
  overflow?: OverflowPolicy
}

/** Stream settings with every level and default applied. */
export interface ResolvedStreamSettings {
  keepAlive: number | false
  compression: CompressionOptions | false
  maxBufferedBytes: number
  overflow: OverflowPolicy
}

/** Default keep-alive interval: under the 60 s idle timeout of common proxies. */
export const DEFAULT_KEEP_ALIVE = 30_000

/** The defaults of every stream. */
export const STREAM_DEFAULTS: Readonly<ResolvedStreamSettings> = Object.freeze({
  keepAlive: DEFAULT_KEEP_ALIVE,
  compression: Object.freeze({}),
  maxBufferedBytes: DEFAULT_MAX_BUFFERED_BYTES,
  overflow: 'close'
})

/**
 * Checks the stream settings among `options` (other fields are ignored) and
 * returns them alone, `compression: true` as `{}`. A mistake throws
 * FST_ERR_SSE_INVALID_OPTION, its message naming `where` when given.
 * @example validateStreamSettings({ keepAlive: 15_000 }, 'config.sse of GET /feed')
 */
export function validateStreamSettings (options: StreamSettings | undefined, where?: string): StreamSettings {
  const settings: StreamSettings = {}
  if (options === undefined) return settings
  try {
    if (options.keepAlive !== undefined) settings.keepAlive = validateKeepAlive(options.keepAlive)
    if (options.compression !== undefined) settings.compression = validateCompression(options.compression)
    if (options.maxBufferedBytes !== undefined) settings.maxBufferedBytes = validateMaxBufferedBytes(options.maxBufferedBytes)
    if (options.overflow !== undefined) settings.overflow = validateOverflow(options.overflow)
  } catch (error) {
    if (where !== undefined) (error as Error).message += ` (${where})`
    throw error
  }
  return settings
}

/**
 * Applies the levels in order, the later refining the earlier, over the
 * defaults. Each level must have been validated.
 * @example resolveStreamSettings([pluginSettings, routeSettings, streamSettings]).keepAlive
 */
export function resolveStreamSettings (levels: ReadonlyArray<StreamSettings | undefined>): ResolvedStreamSettings {
  const resolved: ResolvedStreamSettings = { ...STREAM_DEFAULTS }
  for (const level of levels) {
    if (level === undefined) continue
    if (level.keepAlive !== undefined) resolved.keepAlive = level.keepAlive
    if (level.maxBufferedBytes !== undefined) resolved.maxBufferedBytes = level.maxBufferedBytes
    if (level.overflow !== undefined) resolved.overflow = level.overflow
  }
  resolved.compression = resolveCompression(levels.map((level) => level?.compression))
  return resolved
}

/**
 * Validates a keep-alive setting: a positive number of milliseconds or `false`.
 * @example validateKeepAlive(15_000)
 */
export function validateKeepAlive (value: unknown): number | false {
  if (value === false) return false
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new FST_ERR_SSE_INVALID_OPTION('keepAlive', `expected a positive integer of milliseconds or false, got ${String(value)}`)
  }
  return value
}

/**
 * Validates a queue bound: a positive number of bytes.
 * @example validateMaxBufferedBytes(64 * 1024)
 */
export function validateMaxBufferedBytes (value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new FST_ERR_SSE_INVALID_OPTION('maxBufferedBytes', `expected a positive integer of bytes, got ${String(value)}`)
  }
  return value
}

/**
 * Validates an overflow policy.
 * @example validateOverflow('drop-oldest')
 */
export function validateOverflow (value: unknown): OverflowPolicy {
  if (!OVERFLOW_POLICIES.includes(value as OverflowPolicy)) {
    throw new FST_ERR_SSE_INVALID_OPTION('overflow', `expected "close" or "drop-oldest", got ${String(value)}`)
  }
  return value as OverflowPolicy
}
