/**
 * Settings of event streams, their defaults and their validation. A plugin,
 * a route (`config.sse`) and a stream can each set them; each level refines
 * the one before it, and compression tunings merge per algorithm.
 */
import { FST_ERR_SSE_INVALID_OPTION } from '../errors.js'
import { DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_STALL_TIMEOUT, OVERFLOW_POLICIES, slowConsumerLimits, type OverflowPolicy, type SlowConsumerLimits } from '../slow-consumer.js'
import { DEFAULT_ENCODINGS, type CompressionOptions, type CompressionTuning, type Encoding } from './compression.js'

/** Stream settings that a plugin, a route (`config.sse`) and a stream can each set. */
export interface StreamSettings {
  /** Interval of keep-alive comments in ms, or `false` for none. Default 30 000. */
  keepAlive?: number | false
  /** Per-event compression negotiated from Accept-Encoding; `false` turns it off. Default on. */
  compression?: boolean | CompressionOptions
  /** Soft bound: unsent bytes a client may hold for up to `stallTimeout` ms (a burst it reads). Default 1 MiB. */
  maxBufferedBytes?: number
  /** Hard bound: unsent bytes past which `overflow` applies at once. Default 16 × `maxBufferedBytes`. */
  hardMaxBufferedBytes?: number
  /** How long a client may stay above `maxBufferedBytes` before `overflow` applies, in ms. Default 10 000. */
  stallTimeout?: number
  /** For a slow client: `'close'` the stream (default) or `'drop-oldest'` queued events (latest-state streams). */
  overflow?: OverflowPolicy
}

/** Stream settings with every level and default applied. */
export interface ResolvedStreamSettings {
  keepAlive: number | false
  compression: CompressionOptions | false
  maxBufferedBytes: number
  hardMaxBufferedBytes: number | undefined
  stallTimeout: number
  overflow: OverflowPolicy
}

/** Default keep-alive interval: under the 60 s idle timeout of common proxies. */
export const DEFAULT_KEEP_ALIVE = 30_000

/** The defaults of every stream. */
export const STREAM_DEFAULTS: Readonly<ResolvedStreamSettings> = Object.freeze({
  keepAlive: DEFAULT_KEEP_ALIVE,
  compression: Object.freeze({}),
  maxBufferedBytes: DEFAULT_MAX_BUFFERED_BYTES,
  // Derived from maxBufferedBytes unless set (slowConsumerLimits()).
  hardMaxBufferedBytes: undefined,
  stallTimeout: DEFAULT_STALL_TIMEOUT,
  overflow: 'close'
})

/**
 * Checks the stream settings among `options` (other fields are ignored) and
 * returns them alone, `compression: true` as `{}`. A mistake throws
 * FST_ERR_SSE_INVALID_OPTION, naming `where` the setting was given when known.
 * @example validateStreamSettings({ keepAlive: 15_000 }, 'config.sse of GET /feed')
 */
export function validateStreamSettings (options: StreamSettings | undefined, where?: string): StreamSettings {
  const settings: StreamSettings = {}
  if (options === undefined) return settings
  if (options.keepAlive !== undefined) settings.keepAlive = validateKeepAlive(options.keepAlive, where)
  if (options.compression !== undefined) settings.compression = validateCompression(options.compression, where)
  if (options.maxBufferedBytes !== undefined) settings.maxBufferedBytes = validateBytes('maxBufferedBytes', options.maxBufferedBytes, where)
  if (options.hardMaxBufferedBytes !== undefined) settings.hardMaxBufferedBytes = validateBytes('hardMaxBufferedBytes', options.hardMaxBufferedBytes, where)
  if (options.stallTimeout !== undefined) settings.stallTimeout = validateStallTimeout(options.stallTimeout, where)
  if (options.overflow !== undefined) settings.overflow = validateOverflow(options.overflow, where)
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
    if (level.hardMaxBufferedBytes !== undefined) resolved.hardMaxBufferedBytes = level.hardMaxBufferedBytes
    if (level.stallTimeout !== undefined) resolved.stallTimeout = level.stallTimeout
    if (level.overflow !== undefined) resolved.overflow = level.overflow
  }
  resolved.compression = resolveCompression(levels.map((level) => level?.compression))
  return resolved
}

/**
 * The slow-consumer limits among a stream's settings, validated, every default applied.
 * @example streamLimits({ maxBufferedBytes: 65536 }).stallTimeout // 10000
 */
export function streamLimits (settings: StreamSettings): SlowConsumerLimits {
  const { maxBufferedBytes, hardMaxBufferedBytes, stallTimeout, overflow } = settings
  // Streams with the same settings share one frozen limits object: an idle stream costs no more than before.
  const key = `${String(maxBufferedBytes)} ${String(hardMaxBufferedBytes)} ${String(stallTimeout)} ${String(overflow)}`
  let limits = SHARED_LIMITS.get(key)
  if (limits === undefined) {
    limits = Object.freeze(slowConsumerLimits({
      maxBufferedBytes: maxBufferedBytes === undefined ? undefined : validateBytes('maxBufferedBytes', maxBufferedBytes),
      hardMaxBufferedBytes: hardMaxBufferedBytes === undefined ? undefined : validateBytes('hardMaxBufferedBytes', hardMaxBufferedBytes),
      stallTimeout: stallTimeout === undefined ? undefined : validateStallTimeout(stallTimeout),
      overflow: overflow === undefined ? undefined : validateOverflow(overflow)
    }))
    // Bounded: an app that varies its settings per request only loses the sharing.
    if (SHARED_LIMITS.size >= 64) SHARED_LIMITS.clear()
    SHARED_LIMITS.set(key, limits)
  }
  return limits
}

const SHARED_LIMITS = new Map<string, SlowConsumerLimits>()

/**
 * Validates a keep-alive setting: a positive number of milliseconds or `false`.
 * @example validateKeepAlive(15_000)
 */
export function validateKeepAlive (value: unknown, where?: string): number | false {
  if (value === false) return false
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new FST_ERR_SSE_INVALID_OPTION(optionName('keepAlive', where), `expected a positive integer of milliseconds or false, got ${String(value)}`)
  }
  return value
}

/**
 * Validates a bound of unsent bytes (`maxBufferedBytes`, `hardMaxBufferedBytes`): a positive number of bytes.
 * @example validateBytes('maxBufferedBytes', 64 * 1024)
 */
export function validateBytes (name: 'maxBufferedBytes' | 'hardMaxBufferedBytes', value: unknown, where?: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new FST_ERR_SSE_INVALID_OPTION(optionName(name, where), `expected a positive integer of bytes, got ${String(value)}`)
  }
  return value
}

/**
 * Validates a stall time: a positive number of milliseconds.
 * @example validateStallTimeout(5_000)
 */
export function validateStallTimeout (value: unknown, where?: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new FST_ERR_SSE_INVALID_OPTION(optionName('stallTimeout', where), `expected a positive integer of milliseconds, got ${String(value)}`)
  }
  return value
}

/**
 * Validates an overflow policy.
 * @example validateOverflow('drop-oldest')
 */
export function validateOverflow (value: unknown, where?: string): OverflowPolicy {
  if (!OVERFLOW_POLICIES.includes(value as OverflowPolicy)) {
    throw new FST_ERR_SSE_INVALID_OPTION(optionName('overflow', where), `expected "close" or "drop-oldest", got ${String(value)}`)
  }
  return value as OverflowPolicy
}

const ENCODINGS = new Set<string>(DEFAULT_ENCODINGS)

// What each library accepts, so a bad setting fails at register time, not mid-stream.
const ZLIB_RANGES = { level: [0, 9], window: [9, 15], memLevel: [1, 9] } as const
// zstd's window stops at 2^23: the zstd content coding (RFC 9659) caps it at 8 MiB, and browsers refuse more.
const TUNING_RANGES: Record<Encoding, Partial<Record<keyof CompressionTuning, readonly [number, number]>>> = {
  zstd: { level: [1, 22], window: [10, 23] },
  br: { level: [0, 11], window: [10, 24] },
  gzip: ZLIB_RANGES,
  deflate: ZLIB_RANGES
}

/**
 * Validates compression options (at register time, or when a stream is
 * created) and returns them; `true` means the defaults. A mistake's message
 * names `where` the setting was given, when known.
 * @example validateCompression({ encodings: ['br', 'gzip'], coalesce: 5 })
 */
export function validateCompression (value: unknown, where?: string): CompressionOptions | false {
  const invalid = (name: string, detail: string): Error => new FST_ERR_SSE_INVALID_OPTION(optionName(name, where), detail)
  if (value === false) return false
  if (value === true || value === undefined) return {}
  if (value === null || typeof value !== 'object') throw invalid('compression', `expected a boolean or an object, got ${String(value)}`)
  const options = value as CompressionOptions
  if (options.encodings !== undefined) {
    if (!Array.isArray(options.encodings) || options.encodings.some((encoding) => !ENCODINGS.has(encoding))) {
      throw invalid('compression.encodings', `expected a list of ${DEFAULT_ENCODINGS.join(', ')}`)
    }
  }
  if (options.preference !== undefined && options.preference !== 'server' && options.preference !== 'client') {
    throw invalid('compression.preference', 'expected "server" or "client"')
  }
  if (options.coalesce !== undefined && options.coalesce !== false && (typeof options.coalesce !== 'number' || !(options.coalesce >= 0) || options.coalesce > 1000)) {
    throw invalid('compression.coalesce', 'expected false or a number of milliseconds from 0 to 1000')
  }
  for (const encoding of DEFAULT_ENCODINGS) {
    const tuning = options[encoding]
    if (tuning === undefined) continue
    if (tuning === null || typeof tuning !== 'object') throw invalid(`compression.${encoding}`, 'expected an object')
    for (const key of ['level', 'window', 'memLevel'] as const) {
      const number = tuning[key]
      if (number === undefined) continue
      const range = TUNING_RANGES[encoding][key]
      if (range === undefined) throw invalid(`compression.${encoding}.${key}`, `${encoding} has no ${key} setting`)
      const [min, max] = range
      if (!Number.isSafeInteger(number) || number < min || number > max) {
        throw invalid(`compression.${encoding}.${key}`, `expected an integer from ${min} to ${max}`)
      }
    }
  }
  return options
}

/**
 * Combines compression settings from the least to the most specific level
 * (plugin, route, stream): `false` turns compression off, `true` turns it on
 * with what the levels above said, an object refines them.
 * @example resolveCompression([{ coalesce: 5 }, undefined, { encodings: ['gzip'] }]) // { coalesce: 5, encodings: ['gzip'] }
 */
export function resolveCompression (levels: ReadonlyArray<boolean | CompressionOptions | undefined>): CompressionOptions | false {
  let result = {} as CompressionOptions | false
  for (const level of levels) {
    if (level === undefined) continue
    if (level === false) result = false
    else if (level === true) result = result === false ? {} : result
    else result = mergeCompression(result === false ? {} : result, level)
  }
  return result
}

// Per-algorithm tunings merge too: a route's `br.window` keeps the plugin's `br.level`.
function mergeCompression (base: CompressionOptions, refinement: CompressionOptions): CompressionOptions {
  const merged: CompressionOptions = { ...base, ...refinement }
  for (const encoding of DEFAULT_ENCODINGS) {
    if (base[encoding] !== undefined && refinement[encoding] !== undefined) merged[encoding] = { ...base[encoding], ...refinement[encoding] }
  }
  return merged
}

// An option's name in a message, with where it was given (a route's config.sse) when known.
function optionName (name: string, where: string | undefined): string {
  return where === undefined ? name : `${name} (${where})`
}
