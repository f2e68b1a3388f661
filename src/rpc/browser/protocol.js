// @ts-check
/**
 * The RPC wire protocol: JSON text frames over one WebSocket (or an SSE
 * stream down and POSTs up), the same on both sides. This file runs in the
 * browser as it is (served by the RPC plugin, JavaScript checked by
 * TypeScript through its JSDoc): it imports nothing.
 *
 * - `hello` (client, first frame) and `welcome` (server's answer) open or
 *   resume a session; each says the last numbered frame it received, so the
 *   other side resends only what was lost.
 * - `call`, `result` and `cancel` are numbered per direction (`s`, from 1):
 *   a receiver handles each number once, so a frame resent after a reconnect
 *   is never run twice.
 * - `ack` says the highest number received in order; the sender then forgets
 *   what it kept for a resend.
 * - `bye`: the page is going away; its session ends now, not after its TTL.
 *
 * A message (a WebSocket message; over the SSE transport, an event down or a
 * POST body up) is one frame, or a batch: a JSON array of the
 * `call`, `result`, `cancel` and `ack` frames one side sent in the same turn
 * (64 calls in flight then cost one message each way, not 64).
 */

/** The protocol version a `hello` carries. */
export const PROTOCOL_VERSION = 1

/**
 * An error as it travels: a code and a message, never a stack.
 * @typedef {{ code: string, message: string }} WireError
 */
/**
 * The client's first frame: `ack` is the last frame number it received from
 * the server (0 on a first connect); `session` and `token` resume a session;
 * `module` is the hash of the browser-function module the page runs.
 * @typedef {{ t: 'hello', v: number, ack: number, session?: string, token?: string, module?: string }} HelloFrame
 */
/**
 * The server's answer: the session, the token the next resume must present
 * (rotated each time), the last frame number received from the client, and the
 * hash of the server's browser-function module (another one: the page is out of date),
 * and the largest frame the server takes, in bytes. `moved`: the session was
 * resumed on another server than before (frames are numbered afresh: calls in
 * flight are lost with the old one). Over the SSE transport it also carries
 * `key`: the secret of this connection, which each POST of frames presents
 * (it opens nothing else; the token resumes the session).
 * @typedef {{ t: 'welcome', session: string, token: string, resumed: boolean, moved?: boolean, ack: number, module: string, maxFrame?: number, key?: string }} WelcomeFrame
 */
/**
 * A call; `deadline` is the ms left before the caller gives up (relative: the
 * clocks differ). Every numbered frame carries `a`, the last frame number its
 * sender received, so acks ride on the traffic.
 * @typedef {{ t: 'call', s: number, a?: number, id: number, fn: string, deadline?: number, args: unknown[] }} CallFrame
 */
/** @typedef {{ t: 'result', s: number, a?: number, id: number, value?: unknown, error?: WireError }} ResultFrame */
/**
 * The caller gave up; `reason` is the code it rejected with.
 * @typedef {{ t: 'cancel', s: number, a?: number, id: number, reason: string }} CancelFrame
 */
/** @typedef {{ t: 'ack', ack: number }} AckFrame */
/** @typedef {{ t: 'bye' }} ByeFrame */
/** @typedef {CallFrame | ResultFrame | CancelFrame} NumberedFrame */
/** @typedef {HelloFrame | WelcomeFrame | NumberedFrame | AckFrame | ByeFrame} Frame */

/**
 * The codes an RPC call can fail with, on the wire and in the coded errors
 * of the server (src/errors.ts has a class for each; a test ties the two).
 */
export const RpcErrorCode = Object.freeze({
  TIMEOUT: 'FST_ERR_RPC_TIMEOUT',
  DISCONNECTED: 'FST_ERR_RPC_DISCONNECTED',
  EXPIRED: 'FST_ERR_RPC_SESSION_EXPIRED',
  CANCELLED: 'FST_ERR_RPC_CANCELLED',
  INVALID_PARAMS: 'FST_ERR_RPC_INVALID_PARAMS',
  INVALID_RESULT: 'FST_ERR_RPC_INVALID_RESULT',
  REMOTE: 'FST_ERR_RPC_REMOTE_ERROR',
  NOT_FOUND: 'FST_ERR_RPC_NOT_FOUND',
  OVERLOADED: 'FST_ERR_RPC_OVERLOADED'
})

/** @param {unknown} value @returns {value is number} */
const isCount = (value) => Number.isSafeInteger(value) && /** @type {number} */ (value) >= 0
/** @param {unknown} value @returns {value is number} */
const isNumber = (value) => Number.isSafeInteger(value) && /** @type {number} */ (value) > 0
/** @param {unknown} value @returns {value is string} */
const isString = (value) => typeof value === 'string'
/** @param {unknown} value */
const isOptionalCount = (value) => value === undefined || isCount(value)
/** @param {unknown} value */
const isOptionalString = (value) => value === undefined || typeof value === 'string'

/** @param {unknown} value @returns {value is WireError} */
function isWireError (value) {
  return value !== null && typeof value === 'object' && isString(/** @type {WireError} */ (value).code) && isString(/** @type {WireError} */ (value).message)
}

/**
 * Parses one WebSocket message: its frames, in order (a batch is an array of
 * them); null when it is not well-formed (the connection is then closed: a
 * peer that sends garbage is not talked to). `parse` is the JSON parser (the
 * server's refuses `__proto__` and `constructor.prototype` keys, as it does
 * for request bodies).
 * @param {string} text
 * @param {(text: string) => any} [parse]
 * @returns {Frame[] | null}
 * @example parseFrames('[{"t":"ack","ack":3},{"t":"cancel","s":4,"id":2,"reason":"x"}]') // two frames
 */
export function parseFrames (text, parse = JSON.parse) {
  /** @type {unknown} */
  let parsed
  try {
    parsed = parse(text)
  } catch {
    return null
  }
  if (!Array.isArray(parsed)) {
    const frame = validFrame(parsed)
    return frame === null ? null : [frame]
  }
  if (parsed.length === 0) return null
  /** @type {Frame[]} */
  const frames = []
  for (const item of parsed) {
    const frame = validFrame(item)
    if (frame === null || !BATCHED.has(frame.t)) return null
    frames.push(frame)
  }
  return frames
}

// The frames a batch may hold: the handshake and `bye` travel alone.
const BATCHED = new Set(['call', 'result', 'cancel', 'ack'])

/**
 * A parsed value as a frame; null when it is not one.
 * @param {unknown} value
 * @returns {Frame | null}
 */
function validFrame (value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null
  const frame = /** @type {Record<string, unknown>} */ (value)
  /** @type {unknown} */
  const parsed = frame
  switch (frame.t) {
    case 'hello':
      return isNumber(frame.v) && isCount(frame.ack) && isOptionalString(frame.session) && isOptionalString(frame.token) && isOptionalString(frame.module)
        ? /** @type {HelloFrame} */ (parsed)
        : null
    case 'welcome':
      return isString(frame.session) && isString(frame.token) && typeof frame.resumed === 'boolean' && (frame.moved === undefined || typeof frame.moved === 'boolean') && isCount(frame.ack) && isString(frame.module) && isOptionalCount(frame.maxFrame) && isOptionalString(frame.key)
        ? /** @type {WelcomeFrame} */ (parsed)
        : null
    case 'call':
      return isNumber(frame.s) && isOptionalCount(frame.a) && isNumber(frame.id) && isString(frame.fn) && Array.isArray(frame.args) && (frame.deadline === undefined || isCount(frame.deadline))
        ? /** @type {CallFrame} */ (parsed)
        : null
    case 'result':
      return isNumber(frame.s) && isOptionalCount(frame.a) && isNumber(frame.id) && (frame.error === undefined || isWireError(frame.error))
        ? /** @type {ResultFrame} */ (parsed)
        : null
    case 'cancel':
      return isNumber(frame.s) && isOptionalCount(frame.a) && isNumber(frame.id) && isString(frame.reason) ? /** @type {CancelFrame} */ (parsed) : null
    case 'ack':
      return isCount(frame.ack) ? /** @type {AckFrame} */ (parsed) : null
    case 'bye':
      return { t: 'bye' }
    default:
      return null
  }
}
