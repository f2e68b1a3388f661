/**
 * The WebSocket close codes this package sends (RFC 6455 §7.4.1), named for
 * what they mean to the application, and the checks of a code and a reason to send.
 */
import { FST_ERR_WS_INVALID_OPTION } from '../errors.js'

export const CloseCode = {
  /** The conversation ended normally. */
  NORMAL: 1000,
  /** The server is shutting down (`app.close()`). */
  GOING_AWAY: 1001,
  /** A binary frame reached a resource without a `binary` handler (or text without `message`). */
  UNSUPPORTED_DATA: 1003,
  /** Nothing was received: the connection dropped without a close frame. */
  ABNORMAL: 1006,
  /** A text message that is not valid UTF-8 (found by ws). */
  INVALID_PAYLOAD: 1007,
  /** A message the resource refuses: invalid JSON or a schema violation. */
  POLICY_VIOLATION: 1008,
  /** A message over the resource's size limit. */
  MESSAGE_TOO_BIG: 1009,
  /** A handler threw: the server could not go on with this client. */
  INTERNAL_ERROR: 1011
} as const

/** A close reason is at most 123 bytes of UTF-8 (RFC 6455 §5.5: 125 minus the code). */
export const MAX_CLOSE_REASON = 123

/**
 * Checks a close code an endpoint may send (1004–1006 and 1015 are reserved for reports).
 * @example validateCloseCode(4000) // 4000
 */
export function validateCloseCode (code: unknown): number {
  const valid = typeof code === 'number' && Number.isInteger(code) &&
    ((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999))
  if (!valid) throw new FST_ERR_WS_INVALID_OPTION('close code', `expected 1000-1003, 1007-1014 or 3000-4999, got ${String(code)}`)
  return code
}

/**
 * Cuts a close reason to 123 bytes, never inside a character (the peer checks it is valid UTF-8).
 * @example truncateReason('é'.repeat(100)).length // 61
 */
export function truncateReason (reason: string): string {
  if (reason.length <= MAX_CLOSE_REASON / 3) return reason
  const bytes = Buffer.from(reason)
  if (bytes.length <= MAX_CLOSE_REASON) return reason
  let end = MAX_CLOSE_REASON
  // bytes[end] is the first byte left out: while it continues a character, that character goes too.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--
  return bytes.subarray(0, end).toString('utf8')
}

/** One of the close codes above. */
export type CloseCodeValue = typeof CloseCode[keyof typeof CloseCode]

// ws reports receiver errors with its own codes; these are the close codes it sends for them.
const WS_ERROR_CLOSE_CODES: Readonly<Record<string, number>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: CloseCode.MESSAGE_TOO_BIG,
  WS_ERR_INVALID_UTF8: CloseCode.INVALID_PAYLOAD
}

/**
 * The close code ws sent for one of its receiver errors (1002, protocol error, for the others).
 * @example closeCodeOfWsError(Object.assign(new Error(), { code: 'WS_ERR_INVALID_UTF8' })) // 1007
 */
export function closeCodeOfWsError (error: Error & { code?: string }): number {
  return (error.code !== undefined ? WS_ERROR_CLOSE_CODES[error.code] : undefined) ?? 1002
}
