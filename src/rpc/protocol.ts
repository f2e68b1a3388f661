/**
 * The RPC wire protocol: JSON text frames over one WebSocket, the same on
 * both sides. This module runs in the browser too (served as is from the
 * build): it imports nothing.
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
 */

/** The protocol version a `hello` carries. */
export const PROTOCOL_VERSION = 1

/** An error as it travels: a code and a message, never a stack. */
export interface WireError {
  code: string
  message: string
}

export interface HelloFrame {
  t: 'hello'
  v: number
  /** The last frame number received from the server (0 on a first connect). */
  ack: number
  /** The session to resume, with its secret token. */
  session?: string
  token?: string
  /** The hash of the browser-function module the page runs. */
  module?: string
}

export interface WelcomeFrame {
  t: 'welcome'
  session: string
  /** The token the next resume must present (rotated on every resume). */
  token: string
  resumed: boolean
  /** The last frame number received from the client. */
  ack: number
  /** The hash of the server's browser-function module: a page with another one is out of date. */
  module: string
}

export interface CallFrame {
  t: 'call'
  s: number
  id: number
  fn: string
  args: unknown[]
  /** Milliseconds left before the caller gives up (a relative time: the clocks differ). */
  deadline?: number
}

export interface ResultFrame {
  t: 'result'
  s: number
  id: number
  value?: unknown
  error?: WireError
}

export interface CancelFrame {
  t: 'cancel'
  s: number
  id: number
  /** The code the caller rejected with (timeout, cancelled, expired). */
  reason: string
}

export interface AckFrame {
  t: 'ack'
  ack: number
}

export interface ByeFrame {
  t: 'bye'
}

/** Frames numbered per direction, kept until acknowledged. */
export type NumberedFrame = CallFrame | ResultFrame | CancelFrame

export type Frame = HelloFrame | WelcomeFrame | NumberedFrame | AckFrame | ByeFrame

/**
 * The codes an RPC call can fail with, on the wire and in the coded errors
 * of the server (src/errors.ts defines a class for each; a test ties the two).
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
} as const)

export type RpcErrorCode = typeof RpcErrorCode[keyof typeof RpcErrorCode]

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0
const isNumber = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0
const isString = (value: unknown): value is string => typeof value === 'string'
const isOptionalString = (value: unknown): boolean => value === undefined || typeof value === 'string'

function isWireError (value: unknown): value is WireError {
  return value !== null && typeof value === 'object' && isString((value as WireError).code) && isString((value as WireError).message)
}

/**
 * Parses one text frame; null when it is not a well-formed frame (the
 * connection is then closed: a peer that sends garbage is not talked to).
 * @example const frame = parseFrame('{"t":"ack","ack":3}') // { t: 'ack', ack: 3 }
 */
export function parseFrame (text: string): Frame | null {
  let frame: Record<string, unknown>
  try {
    frame = JSON.parse(text)
  } catch {
    return null
  }
  if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) return null
  switch (frame.t) {
    case 'hello':
      return isNumber(frame.v) && isCount(frame.ack) && isOptionalString(frame.session) && isOptionalString(frame.token) && isOptionalString(frame.module)
        ? frame as unknown as HelloFrame
        : null
    case 'welcome':
      return isString(frame.session) && isString(frame.token) && typeof frame.resumed === 'boolean' && isCount(frame.ack) && isString(frame.module)
        ? frame as unknown as WelcomeFrame
        : null
    case 'call':
      return isNumber(frame.s) && isNumber(frame.id) && isString(frame.fn) && Array.isArray(frame.args) &&
        (frame.deadline === undefined || isCount(frame.deadline))
        ? frame as unknown as CallFrame
        : null
    case 'result':
      return isNumber(frame.s) && isNumber(frame.id) && (frame.error === undefined || isWireError(frame.error))
        ? frame as unknown as ResultFrame
        : null
    case 'cancel':
      return isNumber(frame.s) && isNumber(frame.id) && isString(frame.reason) ? frame as unknown as CancelFrame : null
    case 'ack':
      return isCount(frame.ack) ? frame as unknown as AckFrame : null
    case 'bye':
      return { t: 'bye' }
    default:
      return null
  }
}
