/**
 * The Node client's reconnection policy: which ended connections and failed
 * handshakes are tried again, after what delay (exponential, capped, with
 * jitter), and how many times in a row.
 */
import { FST_ERR_WS_INVALID_OPTION } from '../errors.js'

/** Backoff of the reconnection attempts. */
export interface ReconnectOptions {
  /** Delay before the first attempt, in ms. Default 500. */
  initialDelay?: number
  /** Upper bound of a delay, in ms. Default 30 000. */
  maxDelay?: number
  /** Each attempt waits `factor` times the previous one. Default 2. */
  factor?: number
  /** Share of a delay taken off at random (0..1), so clients dropped together do not come back together. Default 0.2. */
  jitter?: number
  /** Consecutive attempts without a connection that stayed up `resetAfter` ms, before giving up. Default Infinity. */
  maxRetries?: number
  /**
   * How long a connection must stay open before the backoff starts over, in
   * ms: a server that accepts and then closes at once keeps the delays
   * growing. Default 5 000; 0 starts over at every open.
   */
  resetAfter?: number
  /**
   * Close codes, sent by the server or seen on the wire, after which the
   * client reconnects. Default `[1001, 1006, 1011, 1012, 1013, 1014]`.
   * Add 1005 for servers that close without a code on shutdown (a bare
   * @fastify/websocket `app.close()` does).
   */
  closeCodes?: readonly number[]
}

/** The reconnection options, validated, with their defaults. */
export interface Backoff {
  initialDelay: number
  maxDelay: number
  factor: number
  jitter: number
  maxRetries: number
  resetAfter: number
  closeCodes: ReadonlySet<number>
}

const DEFAULT_CLOSE_CODES = [1001, 1006, 1011, 1012, 1013, 1014]

/**
 * Validates the `reconnect` option and applies its defaults; false turns reconnection off.
 * @example resolveBackoff({ maxRetries: 3 }).maxDelay // 30000
 */
export function resolveBackoff (reconnect: false | ReconnectOptions | undefined): Backoff | false {
  if (reconnect === false) return false
  if (reconnect !== undefined && (typeof reconnect !== 'object' || reconnect === null)) {
    throw new FST_ERR_WS_INVALID_OPTION('reconnect', 'expected false or an object')
  }
  const options = reconnect ?? {}
  const initialDelay = validateNumber('reconnect.initialDelay', options.initialDelay ?? 500, 0)
  const maxDelay = validateNumber('reconnect.maxDelay', options.maxDelay ?? Math.max(30_000, initialDelay), initialDelay)
  const factor = validateNumber('reconnect.factor', options.factor ?? 2, 1)
  const jitter = validateNumber('reconnect.jitter', options.jitter ?? 0.2, 0, 1)
  const maxRetries = validateCount('reconnect.maxRetries', options.maxRetries ?? Infinity)
  const resetAfter = validateNumber('reconnect.resetAfter', options.resetAfter ?? 5000, 0)
  const codes = options.closeCodes ?? DEFAULT_CLOSE_CODES
  if (!Array.isArray(codes) || !codes.every((code) => Number.isInteger(code))) {
    throw new FST_ERR_WS_INVALID_OPTION('reconnect.closeCodes', 'expected an array of integers')
  }
  return { initialDelay, maxDelay, factor, jitter, maxRetries, resetAfter, closeCodes: new Set(codes) }
}

/**
 * Whether a connection that ended is tried again: one that was open, when it
 * closed with one of `closeCodes`; a handshake that failed, on a network error
 * or timeout (`status` undefined) or the HTTP status of a server that is down or busy.
 * @example shouldReconnect(resolveBackoff({}), false, 1006, 503) // true
 */
export function shouldReconnect (backoff: Backoff | false, opened: boolean, code: number, status: number | undefined): boolean {
  if (backoff === false) return false
  if (opened) return backoff.closeCodes.has(code)
  return status === undefined || status >= 500 || status === 408 || status === 429
}

/**
 * The delay of reconnection attempt `attempt` (1-based): exponential, capped,
 * less a random share of up to `jitter`.
 * @example backoffDelay({ initialDelay: 500, maxDelay: 30_000, factor: 2, jitter: 0 }, 3) // 2000
 */
export function backoffDelay (backoff: Pick<Backoff, 'initialDelay' | 'maxDelay' | 'factor' | 'jitter'>, attempt: number): number {
  const base = Math.min(backoff.maxDelay, backoff.initialDelay * backoff.factor ** (attempt - 1))
  return Math.round(base * (1 - backoff.jitter * Math.random()))
}

/** The longest `Retry-After` honoured: a server's larger value (or a date far ahead) waits this long. */
export const MAX_RETRY_AFTER = 3_600_000

/**
 * The wait a `Retry-After` header asks for, in ms (RFC 9110 §10.2.3: seconds,
 * or an HTTP date), at most MAX_RETRY_AFTER; undefined when absent or unreadable.
 * @example retryAfterDelay('120', Date.now()) // 120000
 */
export function retryAfterDelay (header: string | undefined, now: number): number | undefined {
  if (header === undefined) return undefined
  const value = header.trim()
  const delay = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now
  if (Number.isNaN(delay)) return undefined
  return Math.min(Math.max(delay, 0), MAX_RETRY_AFTER)
}

/**
 * A non-negative integer, or Infinity (a count of retries, or of queued messages).
 * @example validateCount('maxQueued', 100) // 100
 */
export function validateCount (name: string, value: unknown): number {
  if (value !== Infinity && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) {
    throw new FST_ERR_WS_INVALID_OPTION(name, `expected a non-negative integer or Infinity, got ${String(value)}`)
  }
  return value as number
}

function validateNumber (name: string, value: unknown, min: number, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const range = max === Infinity ? `>= ${min}` : `between ${min} and ${max}`
    throw new FST_ERR_WS_INVALID_OPTION(name, `expected a finite number ${range}, got ${String(value)}`)
  }
  return value
}
